"""Per-request controls: the query decoder agrees with urllib's, values are range-checked."""
from __future__ import annotations

import random
from urllib.parse import unquote_to_bytes

import pytest

from fastmock import controls


@pytest.mark.parametrize(("raw", "decoded"), [
    (b"a%20b", b"a b"), (b"1+2", b"1 2"), (b"%31%30", b"10"), (b"%e2%98%95", "☕".encode()),
    (b"%", b"%"), (b"%2", b"%2"), (b"%zz1", b"%zz1"), (b"100", b"100"), (b"", b""),
])
def test_unquote(raw, decoded):
    assert controls.unquote(raw) == decoded


def test_unquote_agrees_with_urllib():
    rng = random.Random(1234)
    for _ in range(5000):
        raw = bytes(rng.choice(b"%+0aF9g z") for _ in range(rng.randint(0, 10)))
        assert controls.unquote(raw) == unquote_to_bytes(raw.replace(b"+", b" ")), raw


def test_unquote_of_a_path_keeps_plus_and_agrees_with_urllib():
    rng = random.Random(4321)
    for _ in range(5000):
        raw = bytes(rng.choice(b"%+0aF9g z") for _ in range(rng.randint(0, 10)))
        assert controls.unquote(raw, plus=False) == unquote_to_bytes(raw), raw


def test_echo_reads_the_header_before_the_query_and_decodes_the_query():
    assert controls.echo(b"echo=%31", None) is True
    assert controls.echo(b"echo=1&echo=off", None) is False   # the last one, as for the controls
    assert controls.echo(b"echo=1", {b"x-mock-echo": b"0"}) is False
    assert controls.echo(b"x=1", None) is False and controls.echo(None, None) is False
    with pytest.raises(controls.InvalidControl) as bad:
        controls.echo(b"echo=maybe", None)
    assert bad.value.param == "echo"


def test_a_percent_encoded_control_is_read():
    ctl = controls.parse(b"delay_ms=%31%30&max_tokens=+3", None, 50, 0)
    assert (ctl.delay_ms, ctl.max_tokens) == (10, 3)
