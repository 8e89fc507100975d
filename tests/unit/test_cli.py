"""Flags and FASTMOCK_* variables -> Config, in process: the limits that got flags in
issue 12 (point 6), and the one-line refusal of a value the server cannot use."""
from __future__ import annotations

import pytest

from fastmock.cli import parse_config
from fastmock.config import DEFAULTS

LIMITS = [  # flag, Config field, a good value
    ("--backlog", "backlog", 7),
    ("--max-url-bytes", "max_url_bytes", 64),
    ("--max-header-bytes", "max_header_bytes", 200),
    ("--max-headers", "max_headers", 3),
    ("--max-pipelined", "max_pipelined", 2),
]


def env_name(flag: str) -> str:
    return "FASTMOCK_" + flag[2:].upper().replace("-", "_")


@pytest.mark.parametrize("flag,field,value", LIMITS)
def test_each_limit_has_a_flag_and_a_variable_and_the_flag_wins(flag, field, value):
    assert getattr(parse_config([], environ={}), field) == DEFAULTS[field]
    assert getattr(parse_config([flag, str(value)], environ={}), field) == value
    assert getattr(parse_config([f"{flag}={value}"], environ={}), field) == value
    assert getattr(parse_config([], environ={env_name(flag): str(value)}), field) == value
    flag_wins = parse_config([flag, str(value)], environ={env_name(flag): str(value + 1)})
    assert getattr(flag_wins, field) == value


@pytest.mark.parametrize("flag", [flag for flag, _, _ in LIMITS])
def test_each_limit_is_in_the_help(flag, capsys):
    with pytest.raises(SystemExit):
        parse_config(["--help"], environ={})
    assert f"  {flag} " in capsys.readouterr().out


@pytest.mark.parametrize("args,env,words", [
    (["--backlog", "0"], {}, "argument --backlog: 0 is out of range (must be from 1 to 65535)"),
    (["--backlog", "65536"], {}, "argument --backlog: 65536 is out of range"),
    (["--backlog", "many"], {}, "argument --backlog: 'many' is not a whole number"),
    (["--max-url-bytes", "0"], {}, "argument --max-url-bytes: 0 is out of range"),
    (["--max-url-bytes", "1e3"], {}, "argument --max-url-bytes: '1e3' is not a whole number"),
    (["--max-header-bytes", "-5"], {}, "argument --max-header-bytes: -5 is out of range"),
    (["--max-header-bytes", str(1 << 31)], {}, "must be from 1 to 1073741824"),
    (["--max-headers", "0"], {}, "argument --max-headers: 0 is out of range (must be from 1 to 65535)"),
    (["--max-pipelined", "0"], {}, "argument --max-pipelined: 0 is out of range"),
    (["--max-pipelined"], {}, "argument --max-pipelined: expected a value"),
    ([], {"FASTMOCK_BACKLOG": "-1"}, "FASTMOCK_BACKLOG: -1 is out of range"),
    ([], {"FASTMOCK_MAX_URL_BYTES": "big"}, "FASTMOCK_MAX_URL_BYTES: 'big' is not a whole number"),
    ([], {"FASTMOCK_MAX_HEADER_BYTES": ""}, "FASTMOCK_MAX_HEADER_BYTES: '' is not a whole number"),
    ([], {"FASTMOCK_MAX_HEADERS": "100000"}, "FASTMOCK_MAX_HEADERS: 100000 is out of range"),
    ([], {"FASTMOCK_MAX_PIPELINED": "0"}, "FASTMOCK_MAX_PIPELINED: 0 is out of range"),
    # too large for the engine's C integers: one line, not an OverflowError at start
    (["--max-body-bytes", "9" * 30], {}, "argument --max-body-bytes: " + "9" * 30 + " is out of range"),
    (["--max-connections", "9" * 30], {}, "argument --max-connections: " + "9" * 30 + " is out of range"),
])
def test_a_bad_limit_exits_2_with_one_line_naming_it(args, env, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_config(args, environ=env)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastmock: error: ") and words in lines[0], lines


def test_chaos_flag_variable_and_help(capsys):
    odds = (("fragment", 0.1), ("reset", 0.01))
    assert parse_config([], environ={}).chaos is None
    assert parse_config(["--chaos", "fragment=0.1,reset=0.01"], environ={}).chaos == odds
    assert parse_config([], environ={"FASTMOCK_CHAOS": "fragment=0.1,reset=0.01"}).chaos == odds
    with pytest.raises(SystemExit):
        parse_config(["--help"], environ={})
    assert "  --chaos " in capsys.readouterr().out


@pytest.mark.parametrize("value, words", [
    ("fragment=2", "chaos fragment: give a probability from 0 to 1"),
    ("explode=0.1", "unknown chaos condition 'explode'"),
    ("", "no chaos condition given"),
])
def test_a_bad_chaos_exits_2_with_one_line(value, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_config(["--chaos", value], environ={})
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "--chaos" in lines[0] and words in lines[0], lines
