"""Wire chaos as pure functions: the settings, the odds, and the stream rendered to writes
(fastmock.chaos). The writes are read off a Schedule stepped on a made-up clock: no timer."""
from __future__ import annotations

import json

import pytest

from fastmock.chaos import render
from fastmock.chaos.driver import Schedule
from fastmock.chaos.settings import (Chaos, CONDITIONS, Odds, check, from_fixture, from_request,
                                     parse_odds, resolve)
from fastmock.controls import InvalidControl
from fastmock.frames import Frames
from fastmock.streamspec import NDJSON

FRAMES = Frames()
STAMP = b"2026-01-01T00:00:00.000000Z"


def chat_spec(total: int = 209):
    return FRAMES.chat_stream(b"chatcmpl-", 1, 1_700_000_000, total)


def ndjson_spec(total: int = 209):
    return FRAMES.ollama_stream(total, lambda: STAMP)


def plain(spec) -> bytes:
    """The stream's bytes without chaos (the reference the chaos writes are compared to)."""
    total = spec.total
    return spec.opening + b"".join(spec.frame(n, STAMP) for n in range(total)) + spec.closing_bytes(total)


def chaos(**settings) -> Chaos:
    c = Chaos()
    c.seed = 7
    for name, value in settings.items():
        setattr(c, name, value)
    return c


def run(spec, c: Chaos, chunked: bool = False, delay_ms: int = 0, ttft_ms: int = 0,
        limit: int = 100_000) -> tuple[list, int]:
    """Every write (at_ms, data, tokens) a Schedule gives, stepped at exactly each due time,
    and its ending."""
    schedule = Schedule(spec, c, delay_ms, ttft_ms, chunked, lambda: STAMP, 1000)
    out, now = [], 1000
    for _ in range(limit):
        data, tokens, next_ms = schedule.step(now)
        if data:
            out.append((now - 1000, data, tokens))
        if next_ms < 0:
            run.ended_at = now - 1000
            return out, next_ms
        now = max(now, next_ms)
    return out, 0


def body(writes) -> bytes:
    return b"".join(data for _, data, _ in writes)


# -- settings ----------------------------------------------------------------------------------

def test_request_settings_from_query_and_headers_the_header_wins():
    c = from_request(b"fragment=3&crlf=1&stall_ms=50&stall_at=2&fail_mode=reset&seed=9",
                     {b"x-mock-fragment": b"bytes:7", b"x-mock-coalesce": b"4"})
    assert (c.fragment, c.fragment_bytes, c.coalesce, c.crlf) == (0, 7, 4, True)
    assert (c.stall_ms, c.stall_at, c.fail_mode, c.seed) == (50, 2, "reset", 9)
    assert from_request(b"delay_ms=5", {b"content-type": b"x"}) is None


@pytest.mark.parametrize("query, param", [
    (b"fragment=1", "fragment"), (b"fragment=65", "fragment"), (b"fragment=bytes:0", "fragment"),
    (b"fragment=x", "fragment"), (b"coalesce=1", "coalesce"), (b"keepalive_ms=0", "keepalive_ms"),
    (b"stall_ms=-1", "stall_ms"), (b"stall_at=0", "stall_at"), (b"crlf=maybe", "crlf"),
    (b"duplicate_at=0", "duplicate_at"), (b"drop_done=2", "drop_done"),
    (b"malformed_at=a", "malformed_at"), (b"fail_mode=explode", "fail_mode"),
    (b"trickle_bytes=0", "trickle_bytes"), (b"trickle_ms=60001", "trickle_ms"),
    (b"seed=-3", "seed"),
])
def test_a_bad_value_names_its_parameter(query, param):
    with pytest.raises(InvalidControl) as caught:
        from_request(query, None)
    assert caught.value.param == param and param in str(caught.value)


def test_a_bad_header_wins_over_a_good_query():
    with pytest.raises(InvalidControl, match="fragment"):
        from_request(b"fragment=3", {b"x-mock-fragment": b"0"})


@pytest.mark.parametrize("query, ndjson, fail_after, param", [
    (b"keepalive_ms=10", True, -1, "keepalive_ms"),
    (b"fail_mode=reset", False, -1, "fail_mode"),
    (b"stall_at=3", False, -1, "stall_at"),
    (b"trickle_ms=3", False, -1, "trickle_ms"),
])
def test_rules_that_depend_on_the_stream(query, ndjson, fail_after, param):
    with pytest.raises(InvalidControl) as caught:
        check(from_request(query, None), ndjson, fail_after)
    assert caught.value.param == param
    check(from_request(b"keepalive_ms=10&fail_mode=reset", None), False, 3)   # fine


def test_fixture_settings_take_json_values_and_leave_aimocks_fields():
    c = from_fixture({"fragment": "bytes:5", "crlf": True, "stall_ms": 10, "dropRate": 0.5})
    assert (c.fragment_bytes, c.crlf, c.stall_ms) == (5, True, 10)
    assert from_fixture({"dropRate": 0.5}) is None
    with pytest.raises(InvalidControl, match="unknown field"):
        from_fixture({"explode": 1})
    with pytest.raises(InvalidControl) as caught:
        from_fixture({"coalesce": [2]})
    assert caught.value.param == "coalesce"


def test_the_request_wins_over_its_fixture():
    fixture = from_fixture({"fragment": 3, "crlf": True})
    request = from_request(b"fragment=bytes:9&seed=4", None)
    c = resolve(request, fixture, None, 209, -1, False)
    assert (c.fragment, c.fragment_bytes, c.crlf, c.seed) == (0, 9, True, 4)


# -- server-wide odds ---------------------------------------------------------------------------

def test_odds_parse_and_refuse():
    assert parse_odds("fragment=0.1, reset=0.01") == (("fragment", 0.1), ("reset", 0.01))
    for bad in ("", "fragment", "fragment=2", "explode=0.1", "fragment=x"):
        with pytest.raises(ValueError):
            parse_odds(bad)


def test_a_stream_draws_each_condition_from_its_seed():
    everything = Odds(tuple((name, 1.0) for name in CONDITIONS), seed=1)
    c = resolve(None, None, everything, 209, -1, False)
    assert c.fragment == 3 and c.coalesce == 3 and c.keepalive_ms == 1000 and c.crlf
    assert c.drop_done and 1 <= c.stall_at <= 209 and 1 <= c.duplicate_at <= 209
    assert c.fail_mode == "truncate" and 1 <= c.fail_after <= 209 and c.trickle_bytes == 64
    assert resolve(None, None, Odds((("fragment", 0.0),), seed=1), 209, -1, False) is None
    # NDJSON has no comment lines: a drawn keepalive does nothing there
    assert resolve(None, None, Odds((("keepalive", 1.0),), 1), 209, -1, True) is None


def test_the_same_seed_draws_the_same_and_replays_from_the_request():
    odds = (("fragment", 0.5), ("stall", 0.5), ("reset", 0.5))
    first = [resolve(None, None, o, 209, -1, False) for o in [Odds(odds, 3)] * 30]
    again = [resolve(None, None, o, 209, -1, False) for o in [Odds(odds, 3)] * 30]
    described = [c.describe() if c else None for c in first]
    assert described == [c.describe() if c else None for c in again]
    assert None in described and any(d and "stall_at" in d for d in described)
    # what X-Mock-Chaos says, sent back as a query, is the same stream (fail_after is the
    # existing control's parameter: the request's controls read it)
    for replay in (c for c in first if c is not None):
        query = dict(part.split("=") for part in replay.describe().split("&"))
        asked = from_request(replay.describe().encode(), None)
        again = resolve(asked, None, None, 209, int(query.get("fail_after", -1)), False)
        assert again.describe() == replay.describe()


# -- fragments ----------------------------------------------------------------------------------

def test_fragment_cuts_fall_in_a_character_the_prefix_the_line_ends_and_the_json():
    spec = chat_spec()
    event = next(spec.frame(n) for n in range(209) if "🏁".encode() in spec.frame(n))
    cuts = render.fragment_cuts(event, 5, 0, __import__("_random").Random(1))
    assert len(cuts) == 4
    kinds = set()
    for cut in cuts:
        if 0x80 <= event[cut] < 0xC0:
            kinds.add("character")
        elif 0 < cut < 5:
            kinds.add("data:")
        elif cut == len(event) - 1:
            kinds.add("line ends")
        elif event.index(b"{") < cut <= event.rindex(b"}"):
            kinds.add("json")
    assert kinds == {"character", "data:", "line ends", "json"}


def test_fragment_n_writes_n_pieces_per_event_and_nothing_else_changes():
    spec = chat_spec()
    writes, ending = run(spec, chaos(fragment=3))
    assert ending == render.END_CLEAN and body(writes) == plain(spec)
    events = render.split_events(plain(spec), b"\n\n")
    assert len(writes) == 3 * len(events)
    # the two-byte, three-byte and four-byte characters are each cut somewhere
    split = [data for _, data, _ in writes]
    for char in ("ï", "…", "🏁"):
        encoded = char.encode()
        assert any(a.endswith(encoded[:k]) and b.startswith(encoded[k:])
                   for a, b in zip(split, split[1:]) for k in range(1, len(encoded)))
    # one piece a millisecond: pieces never share a write time
    times = [at for at, _, _ in writes]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert sum(tokens for _, _, tokens in writes) == 209


def test_fragment_bytes_k_cuts_every_k_bytes_of_an_event():
    spec = chat_spec(3)
    writes, _ = run(spec, chaos(fragment_bytes=10))
    for event in render.split_events(plain(spec), b"\n\n"):
        pieces = [event[i:i + 10] for i in range(0, len(event), 10)]
        assert all(piece in [d for _, d, _ in writes] for piece in pieces)
    assert all(len(d) <= 10 for _, d, _ in writes)


def test_chunked_each_write_is_one_chunk():
    spec = chat_spec(5)
    writes, _ = run(spec, chaos(fragment=2), chunked=True)
    pieces = []
    for _, data, _ in writes[:-1]:
        size, _, rest = data.partition(b"\r\n")
        assert int(size, 16) == len(rest) - 2 and rest.endswith(b"\r\n")
        pieces.append(rest[:-2])
    assert writes[-1][1] == b"0\r\n\r\n" and b"".join(pieces) == plain(spec)


def test_coalesce_puts_n_events_in_one_write():
    spec = chat_spec(10)
    writes, _ = run(spec, chaos(coalesce=4))
    events = render.split_events(plain(spec), b"\n\n")      # 10 frames and [DONE]
    assert [len(render.split_events(d, b"\n\n")) for _, d, _ in writes] == [4, 4, 3]
    assert body(writes) == b"".join(events)


# -- line ends, comments, gaps --------------------------------------------------------------------

def test_crlf_ends_every_line_with_crlf():
    spec = chat_spec(4)
    writes, _ = run(spec, chaos(crlf=True))
    assert body(writes) == plain(spec).replace(b"\n", b"\r\n")
    ndjson = ndjson_spec(3)
    lines = render.split_events(body(run(ndjson, chaos(crlf=True))[0]), b"\n")
    assert len(lines) == 4 and all(line.endswith(b"}\r\n") for line in lines)
    assert lines[:3] == render.split_events(plain(ndjson).replace(b"\n", b"\r\n"), b"\n")[:3]


def test_keepalive_comments_keep_their_grid_from_the_start_including_before_the_first_token():
    spec = chat_spec(3)
    writes, _ = run(spec, chaos(keepalive_ms=40), delay_ms=100, ttft_ms=130)
    comments = [at for at, data, _ in writes if data == b": keep-alive\n\n"]
    tokens = [at for at, _, n in writes if n]
    assert comments == [40, 80, 120, 160, 200, 240, 280, 320] and tokens == [130, 230, 330]


def test_stall_delays_token_k_and_every_token_after_it():
    writes, _ = run(chat_spec(5), chaos(stall_ms=1000, stall_at=3), delay_ms=10)
    assert [at for at, _, n in writes if n] == [0, 10, 1020, 1030, 1040]


def test_trickle_writes_k_bytes_every_m_ms():
    spec = chat_spec(3)
    writes, _ = run(spec, chaos(trickle_bytes=25, trickle_ms=4))
    data = [d for _, d, _ in writes]
    assert b"".join(data) == plain(spec)
    assert all(len(d) == 25 for d in data[:-1]) and 0 < len(data[-1]) <= 25
    assert [at for at, _, _ in writes][:4] == [0, 4, 8, 12]


# -- frames: twice, broken, missing -------------------------------------------------------------

def test_duplicate_malformed_and_drop_done():
    spec = chat_spec(4)
    events = render.split_events(plain(spec), b"\n\n")
    writes, ending = run(spec, chaos(duplicate_at=2, malformed_at=3, drop_done=True))
    got = render.split_events(body(writes), b"\n\n")
    assert ending == render.END_CLEAN
    assert got[:2] == [events[0], events[1]] and got[2] == events[1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(got[3][len(b"data: "):])
    assert got[4] == events[3] and b"[DONE]" not in body(writes)


def test_drop_done_drops_the_apis_closing_event():
    ndjson = ndjson_spec(2)
    lines = render.split_events(body(run(ndjson, chaos(drop_done=True))[0]), b"\n")
    assert len(lines) == 2 and all(b'"done":false' in line for line in lines)


# -- how a cut ends -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode, ending", [
    ("close", render.END_CLOSE), ("reset", render.END_RESET), ("truncate", render.END_CLOSE)])
def test_fail_modes(mode, ending):
    spec = chat_spec(10)
    events = render.split_events(plain(spec), b"\n\n")
    writes, got = run(spec, chaos(fail_after=3, fail_mode=mode), chunked=True, delay_ms=10)
    assert got == ending
    assert run.ended_at == 30                     # when token 4 was due
    sent = [w[1].partition(b"\r\n")[2][:-2] for w in writes[:3]]
    assert sent == events[:3]
    if mode == "truncate":
        size, _, part = writes[3][1].partition(b"\r\n")
        assert len(writes) == 4 and writes[3][0] == 30
        assert int(size, 16) == len(events[3]) and events[3].startswith(part)
        assert 0 < len(part) < len(events[3])
    else:
        assert len(writes) == 3                   # the cut itself sends nothing


# -- endless streams ------------------------------------------------------------------------------

def test_an_endless_stream_is_rendered_as_far_as_it_is_sent():
    spec = chat_spec(-1)
    writes, ending = run(spec, chaos(fragment=2, crlf=True), limit=2000)
    assert ending == 0 and len(writes) == 2000      # still going
    assert sum(n for _, _, n in writes) == 1000


def test_finish_ends_cleanly_between_events():
    spec = chat_spec(5)
    schedule = Schedule(spec, chaos(coalesce=2), 10, 0, True, lambda: STAMP, 0)
    schedule.step(0)
    assert schedule.finish().endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


def test_ndjson_events_are_lines():
    spec = ndjson_spec(3)
    assert spec.content_type == NDJSON
    writes, _ = run(spec, chaos(fragment=2))
    lines = render.split_events(body(writes), b"\n")
    # the done line's durations are measured: the token lines are the reference's
    assert lines[:3] == render.split_events(plain(spec), b"\n")[:3] and len(writes) == 2 * 4
