"""Stream pacing on a manual clock: FrameStream, OllamaStream and the shared Pacer."""
from __future__ import annotations

import json
import logging

import pytest

from fastmock._engine import MAX_BATCH
from fastmock._engine import Pacer
from fastmock._engine import Waiter as PacedWaiter
from fastmock.frames import split_tokens
from support.fakes import FRAMES, Client, ManualClockLoop, make_app, stats
from support.http import parse_head, parse_responses
from support.streams import chat_deltas, sse_events

TOKENS = FRAMES.corpus.tokens
TEXT = FRAMES.corpus.text
COUNT = len(TOKENS)


def get(target: str, headers: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode()


def ms(t: float) -> int:
    return round(t * 1000)


def frame_log(c: Client) -> list[tuple[int, int]]:
    """(ms, frames in that write) for every write of the transport."""
    return [(ms(t), data.count(b"data: {") + data.count(b'"done":false')) for t, data in c.transport.log]


def contents(data: bytes) -> list[str]:
    return [c["choices"][0]["delta"]["content"] for c in chat_deltas(sse_events(data))]


def body_of(c: Client) -> bytes:
    [r] = parse_responses(c.data())
    return r.body


# -- absolute deadlines ---------------------------------------------------------------------

@pytest.mark.parametrize(("delay", "ttft"), [(7, 13), (10, 0), (1, 0), (33, 250)])
def test_frame_n_at_start_plus_ttft_plus_n_delays(loop, delay, ttft):
    c = Client(loop)
    t0 = ms(loop.time())
    c.send(get(f"/stream-sse?delay_ms={delay}&ttft_ms={ttft}&max_tokens=100"))
    steps = [0.0037, 0.011, 0.0005, 0.023, 0.0071, 0.0002]
    i = 0
    while stats(c.app).streams:
        loop.advance(steps[i % len(steps)])
        i += 1
    log = frame_log(c)
    if ttft:
        assert log[0] == (t0, 0), "the head goes out at once, alone"
        log = log[1:]
    assert [n for _, n in log] == [1] * 100, "one write per frame on a punctual loop"
    assert [t for t, _ in log] == [t0 + ttft + n * delay for n in range(100)]
    assert contents(body_of(c)) == list(TOKENS[:100])


def test_no_drift_when_the_loop_runs_late_in_uneven_steps(loop):
    """The loop wakes at odd times (whole ms, as uvloop's clock): every frame due is out, none early."""
    c = Client(loop)
    delay, ttft, total = 10, 25, 100
    t0 = ms(loop.time())
    c.send(get(f"/stream-sse?delay_ms={delay}&ttft_ms={ttft}&max_tokens={total}"))
    steps_ms = [3, 11, 1, 23, 7, 2, 17, 5, 31, 4]
    i = 0
    while stats(c.app).streams:
        loop.jump(steps_ms[i % len(steps_ms)] / 1000)
        i += 1
        now = ms(loop.time()) - t0
        due = 0 if now < ttft else min(total, (now - ttft) // delay + 1)
        assert c.data().count(b"data: {") == due, f"at +{now} ms"
    # the last frame went out at the first wake-up after its deadline: nothing accumulated
    last_due = t0 + ttft + (total - 1) * delay
    assert 0 <= ms(c.transport.log[-1][0]) - last_due < max(steps_ms)
    assert contents(body_of(c)) == list(TOKENS[:total])


def test_frames_due_after_a_jump_go_out_in_one_write(client):
    loop = client.loop
    client.send(get("/stream-sse?delay_ms=10"))
    assert len(client.transport.log) == 1            # head + frame 0
    client.take()
    loop.jump(0.050)                                 # frames 1..5 are due
    assert len(client.transport.writes) == 1
    assert client.data().count(b"data: {") == 5
    loop.jump(0.009)
    assert len(client.transport.writes) == 1, "frame 6 is not due before +60 ms"
    loop.jump(0.001)
    assert len(client.transport.writes) == 2 and client.data().count(b"data: {") == 6


def test_a_long_jump_is_written_in_bounded_batches(client):
    client.send(get("/stream-sse?delay_ms=1"))
    client.take()
    client.loop.jump(0.150)                          # 150 frames due
    sizes = [w.count(b"data: {") for w in client.transport.writes]
    assert sum(sizes) == 150 and max(sizes) <= MAX_BATCH


def test_ttft_delays_the_first_frame_but_not_the_head(client):
    client.send(get("/stream-sse?delay_ms=10&ttft_ms=500&max_tokens=3"))
    data = client.data()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n")
    assert b"data:" not in data
    client.loop.advance(0.499)
    assert client.data() == data
    client.loop.advance(0.001)
    assert client.data().count(b"data: {") == 1


def test_ttft_applies_to_an_unpaced_stream(client):
    client.send(get("/stream-sse?delay_ms=0&ttft_ms=200&max_tokens=3"))
    head = client.data()
    assert head.endswith(b"\r\n\r\n") and b"data:" not in head
    client.loop.advance(0.199)
    assert client.data() == head, "the first token came before ttft_ms"
    client.loop.advance(0.001)
    assert contents(body_of(client)) == list(TOKENS[:3])


# -- unpaced streams (delay_ms=0) -------------------------------------------------------------

def test_unpaced_stream_writes_batches_via_call_soon(client):
    loop = client.loop
    client.send(get("/stream-loop?delay_ms=0"), run=False)
    assert len(client.transport.log) == 1 and client.data().count(b"data: {") == 0
    assert [h.kind for h in loop.ready()] == ["call_soon"]
    assert loop.timers() == [] and len(client.app.pacer) == 0
    for n in range(1, 4):
        assert loop.run_once() == 1
        assert client.data().count(b"data: {") == n * MAX_BATCH
        assert len(client.transport.writes) == 1 + n, "one write per batch"
    client.transport.pause()
    loop.advance(10)                 # the burst already queued runs, and sends nothing
    assert client.data().count(b"data: {") == 3 * MAX_BATCH and loop.ready() == []
    client.transport.drain()
    loop.run_once()
    assert client.data().count(b"data: {") == 4 * MAX_BATCH


def test_unpaced_stream_runs_until_the_transport_pushes_back(loop):
    c = Client(loop, delay_ms=0, high_water=100_000)
    c.send(get("/stream-loop"))                      # run_ready() returns: the pause stopped it
    assert c.transport.write_paused and loop.ready() == []
    assert 100_000 < len(c.data()) < 100_000 + 64 * 300
    c.transport.drain()
    loop.run_ready()
    assert c.transport.write_paused and len(c.data()) > 200_000


def test_unpaced_stream_ends(client):
    client.send(get("/stream-sse?delay_ms=0"))
    assert contents(body_of(client)) == list(TOKENS)
    assert len(client.transport.writes) == 1 + -(-COUNT // MAX_BATCH)
    assert stats(client.app).streams == 0 and client.loop.ready() == []


# -- what is sent ---------------------------------------------------------------------------------

@pytest.mark.parametrize("total", [1, 2, COUNT - 1, COUNT, COUNT + 1, 2 * COUNT + 5])
def test_max_tokens_cycles_the_text(client, total):
    client.send(get(f"/stream-sse?delay_ms=1&max_tokens={total}"))
    client.loop.advance(total / 1000 + 0.01)
    chunks = chat_deltas(sse_events(body_of(client)))
    assert len(chunks) == total
    cycled = TOKENS if total <= COUNT else TOKENS[:-1] + (TOKENS[-1] + " ",)  # parted by a space
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    assert text == "".join(cycled[n % COUNT] for n in range(total))
    assert len(split_tokens(text)) == total
    assert [("role" in c["choices"][0]["delta"]) for c in chunks] == [True] + [False] * (total - 1)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (total - 1) + ["stop"]
    assert stats(client.app).tokens_sent == total


def test_stream_loop_never_ends(client):
    client.send(get("/stream-loop?delay_ms=1"))
    client.loop.advance(3 * COUNT / 1000 + 0.0005)
    data = client.data()
    assert b"[DONE]" not in data and b'"finish_reason":"stop"' not in data
    _, _, body = parse_head(data)
    events = []
    while body:                                      # chunked frames, no terminator yet
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        assert size > 0
        events.append(body[:size])
        body = body[size + 2:]
    chunks = [json.loads(e[6:-2]) for e in events]
    assert len(chunks) == 3 * COUNT + 1
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == (TEXT + " ") * 3 + TOKENS[0]
    assert sum("role" in c["choices"][0]["delta"] for c in chunks) == 1
    assert stats(client.app).streams == 1


@pytest.mark.parametrize("total", [None, 1, 7])
def test_ndjson_done_line_counts_the_frames(client, total):
    query = "" if total is None else f"&max_tokens={total}"
    client.send(get(f"/stream-ndjson?delay_ms=1{query}"))
    client.loop.advance(1)
    lines = body_of(client).split(b"\n")
    assert lines[-1] == b""
    objects = [json.loads(line) for line in lines[:-1]]
    sent = COUNT if total is None else total
    assert len(objects) == sent + 1
    assert [o["done"] for o in objects] == [False] * sent + [True]
    done = objects[-1]
    assert done["eval_count"] == sent and done["done_reason"] == "stop" and done["response"] == ""
    assert done["model"] == "mock-llama3"
    assert len({len(o["created_at"]) for o in objects}) == 1, "the stamp has a fixed width"
    assert "".join(o["response"] for o in objects[:-1]) == "".join(TOKENS[n % COUNT] for n in range(sent))


def test_completion_id_is_the_same_in_every_frame_and_new_per_stream(client):
    client.send(get("/stream-sse?delay_ms=1&max_tokens=5") + get("/stream-sse?delay_ms=1&max_tokens=5"))
    client.loop.advance(1)
    r1, r2 = parse_responses(client.data())
    ids1 = {c["id"] for c in chat_deltas(sse_events(r1.body))}
    ids2 = {c["id"] for c in chat_deltas(sse_events(r2.body))}
    assert len(ids1) == len(ids2) == 1 and ids1 != ids2


# -- flow control ------------------------------------------------------------------------------------

def test_resume_continues_from_the_same_token_paced_from_now(client):
    loop = client.loop
    client.send(get("/stream-sse?delay_ms=10&max_tokens=20"))
    loop.advance(0.035)                              # frames 0..3
    client.transport.pause()
    loop.advance(1.0)
    assert client.data().count(b"data: {") == 4
    t_resume = ms(loop.time())
    client.take()
    client.transport.log.clear()
    client.transport.drain()
    loop.advance(0)
    assert frame_log(client) == [(t_resume, 1)], "the next frame goes out at once on resume"
    loop.advance(0.0099)
    assert len(client.transport.log) == 1
    loop.advance(0.0001)
    assert frame_log(client)[1] == (t_resume + 10, 1), "and the pace restarts from the resume"
    loop.advance(1)
    assert client.transport.log[-1][1].endswith(b"0\r\n\r\n")
    whole = b"".join(w for _, w in client.transport.log)
    got = [json.loads(e) for e in sse_events(_dechunk(whole))[:-1]]
    assert [g["choices"][0]["delta"]["content"] for g in got] == list(TOKENS[4:20])


def _dechunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        out.append(data[:size])
        data = data[size + 2:]
    return b"".join(out)


def test_pause_during_ttft(client):
    client.send(get("/stream-sse?delay_ms=10&ttft_ms=100&max_tokens=2"))
    client.transport.pause()
    client.loop.advance(1)
    assert b"data: {" not in client.data()
    client.transport.drain()
    client.loop.advance(1)
    assert contents(body_of(client)) == list(TOKENS[:2])


def test_pause_and_resume_are_idempotent(client):
    client.send(get("/stream-sse?delay_ms=10&max_tokens=5"))
    conn = client.protocol
    conn.pause_writing()
    conn.pause_writing()
    assert len(client.app.pacer) == 0
    conn.resume_writing()
    conn.resume_writing()
    assert len(client.app.pacer) == 1, "resumed twice, queued once"
    client.loop.advance(1)
    assert contents(body_of(client)) == list(TOKENS[:5])


# -- errors inside callbacks ------------------------------------------------------------------------

class Boom(RuntimeError):
    pass


def _explode(data):
    raise Boom("transport write failed")


@pytest.mark.parametrize("broken_first", [True, False])
def test_an_error_in_a_stream_aborts_only_that_connection(loop, caplog, broken_first):
    shared = make_app(loop, delay_ms=10)
    a, b = Client(loop, shared), Client(loop, shared)
    first, second = (a, b) if broken_first else (b, a)
    first.send(get("/stream-sse?max_tokens=50"))
    second.send(get("/stream-sse?max_tokens=50"))
    assert a.protocol.slot == b.protocol.slot, "both wait in the same bucket"
    a.transport.write = _explode
    loop.expected_errors = 1
    with caplog.at_level(logging.ERROR, logger="fastmock"):
        loop.advance(0.01)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and isinstance(errors[0].exc_info[1], Boom)
    assert a.transport.aborted and a.transport.lost
    assert stats(shared).streams == 1 and stats(shared).connections == 1
    loop.advance(1)
    assert contents(body_of(b)) == list(TOKENS[:50])
    assert not b.transport.aborted and not b.transport.closed
    assert stats(shared).streams == 0 and len(shared.pacer) == 0
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_an_error_in_an_unpaced_stream_aborts_it(loop, caplog):
    c = Client(loop, delay_ms=0)
    c.send(get("/stream-loop"), run=False)
    c.transport.write = _explode
    loop.expected_errors = 1
    with caplog.at_level(logging.ERROR, logger="fastmock"):
        loop.run_ready()
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert c.transport.aborted and stats(c.app).streams == 0 and loop.ready() == []


# -- the Pacer on its own -------------------------------------------------------------------------

class Waiter(PacedWaiter):
    """Records when the Pacer wakes it."""

    def __init__(self, loop) -> None:
        self.loop = loop
        self.calls: list[tuple[int, int]] = []   # (now_ms passed, loop ms)

    def due(self, now_ms: int) -> None:
        self.calls.append((now_ms, ms(self.loop.time())))

    def fail(self, exc) -> None:  # pragma: no cover - would be a test bug
        raise AssertionError(exc)


def armed(loop) -> list[int]:
    return [ms(h.when()) for h in loop.timers()]


def test_pacer_one_timer_for_many_streams(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    waiters = [Waiter(loop) for _ in range(100)]
    for i, w in enumerate(waiters):
        pacer.schedule(w, t + 10 + i % 3)
    assert armed(loop) == [t + 10] and len(pacer) == 100
    loop.advance(0.012)
    assert all(w.calls == [(t + 10 + i % 3,) * 2] for i, w in enumerate(waiters))
    assert len(pacer) == 0 and armed(loop) == []


def test_pacer_remove_a_waiting_stream(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    w1, w2 = Waiter(loop), Waiter(loop)
    pacer.schedule(w1, t + 10)
    pacer.schedule(w2, t + 10)
    pacer.unschedule(w1)
    assert w1.slot == -1 and len(pacer) == 1
    pacer.unschedule(w1)                                  # not waiting: a no-op
    loop.advance(1)
    assert w1.calls == [] and w2.calls == [(t + 10, t + 10)]


def test_pacer_re_adding_earlier_re_arms_the_timer(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    w = Waiter(loop)
    pacer.schedule(w, t + 100)
    assert armed(loop) == [t + 100]
    pacer.unschedule(w)
    pacer.schedule(w, t + 50)
    assert armed(loop) == [t + 50], "the earlier slot must re-arm the timer"
    loop.advance(1)
    assert w.calls == [(t + 50, t + 50)]
    assert armed(loop) == []


def test_pacer_later_slot_keeps_the_timer_then_re_arms(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    w1, w2 = Waiter(loop), Waiter(loop)
    pacer.schedule(w1, t + 10)
    pacer.schedule(w2, t + 30)
    assert armed(loop) == [t + 10]
    loop.advance(0.010)
    assert armed(loop) == [t + 30]
    pacer.unschedule(w2)
    pacer.schedule(w2, t + 20)
    assert armed(loop) == [t + 20]
    loop.advance(1)
    assert w2.calls == [(t + 20, t + 20)]


def test_pacer_removed_bucket_then_same_slot_again(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    w = Waiter(loop)
    for _ in range(3):
        pacer.schedule(w, t + 10)
        pacer.unschedule(w)
    pacer.schedule(w, t + 10)
    loop.advance(1)
    assert w.calls == [(t + 10, t + 10)], "called once despite stale heap entries"


def test_pacer_tick_rounds_up_to_its_granularity(loop):
    pacer = Pacer(loop, tick_ms=5)
    t = ms(loop.time())
    w = Waiter(loop)
    pacer.schedule(w, t + 12)
    assert w.slot == t + 15 and armed(loop) == [t + 15]
    loop.advance(1)
    assert w.calls == [(t + 15, t + 15)]


def test_pacer_fires_at_every_millisecond_of_the_clock(loop):
    """now_ms() must equal the slot the timer was armed for, whatever the clock reads."""
    pacer = Pacer(loop)
    t = ms(loop.time())
    waiters = []
    for k in range(1, 2001):
        w = Waiter(loop)
        pacer.schedule(w, t + k)
        waiters.append(w)
    loop.advance(2.5)
    assert [w.calls for w in waiters] == [[(t + k, t + k)] for k in range(1, 2001)]


def test_pacer_close_cancels_the_timer(loop):
    pacer = Pacer(loop)
    w = Waiter(loop)
    pacer.schedule(w, ms(loop.time()) + 10)
    pacer.close()
    assert armed(loop) == [] and len(pacer) == 0
    loop.advance(1)
    assert w.calls == []


def test_a_lost_stream_is_forgotten_once(client):
    client.send(get("/stream-sse?delay_ms=10"))
    client.transport.peer_reset()
    client.protocol.connection_lost(None)            # a second report changes nothing
    assert len(client.app.pacer) == 0 and client.protocol.transport is None
    client.loop.advance(1)
    assert stats(client.app).streams == 0 and stats(client.app).connections == 0


# -- the fake loop itself ------------------------------------------------------------------------

def test_fake_loop_reports_callback_errors():
    """The ``loop`` fixture's teardown check is not vacuous."""
    loop = ManualClockLoop()
    loop.call_later(0.01, _explode, b"")
    loop.advance(1)
    assert len(loop.exception_contexts) == 1
    assert isinstance(loop.exception_contexts[0]["exception"], Boom)


def test_a_stale_burst_does_not_push_the_next_paced_stream(client):
    """A burst queued for an unpaced stream must not send frames of the stream after it."""
    first, second = get("/stream-sse?delay_ms=0&max_tokens=3"), get("/stream-sse?delay_ms=50&max_tokens=3")
    client.send(first + second, run=False)
    client.protocol.pause_writing()
    client.protocol.resume_writing()          # a second burst is queued next to the first
    client.loop.run_ready()
    [one, two] = parse_responses(client.data() + b"0\r\n\r\n")
    assert len(chat_deltas(sse_events(one.body))) == 3
    assert two.body.count(b"data: {") == 1, "only the second stream's first (due) frame"
    client.loop.advance(0.049)
    assert client.data().count(b"data: {") == 4
    client.loop.advance(1)
    assert client.data().count(b"data: {") == 6


# -- the timing wheel: items a whole turn ahead, long idle spells --------------------------------

def test_pacer_item_more_than_a_turn_ahead_shares_a_place_and_waits_its_turn(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    near, far = Waiter(loop), Waiter(loop)
    pacer.schedule(far, t + 10 + 4096 * 3)     # the same place on the wheel, three turns on
    pacer.schedule(near, t + 10)
    loop.advance(0.011)
    assert near.calls == [(t + 10, t + 10)] and far.calls == []
    loop.advance(4.096 * 3)
    assert far.calls == [(t + 10 + 4096 * 3,) * 2]
    assert len(pacer) == 0 and armed(loop) == []


def test_pacer_after_a_long_idle_spell(loop):
    pacer = Pacer(loop)
    w = Waiter(loop)
    pacer.schedule(w, ms(loop.time()) + 5)
    loop.advance(1)
    loop.advance(30)                           # nothing waits: no timer at all
    assert armed(loop) == []
    t = ms(loop.time())
    pacer.schedule(w, t + 7)
    assert armed(loop) == [t + 7]
    loop.advance(0.007)
    assert w.calls[-1] == (t + 7, t + 7)


def test_pacer_a_slot_already_past_goes_to_the_next_tick(loop):
    pacer = Pacer(loop)
    t = ms(loop.time())
    first, late = Waiter(loop), Waiter(loop)
    pacer.schedule(first, t + 1)
    loop.advance(0.001)
    pacer.schedule(late, t - 50)               # due long ago: woken at the next millisecond
    assert armed(loop) == [t + 2]
    loop.advance(0.001)
    assert late.calls == [(t + 2, t + 2)]


def test_pacer_streams_with_delays_longer_than_a_turn(client):
    """5 s between tokens: every token comes on time although the wheel turns in 4.096 s."""
    client.send(get("/stream-sse?delay_ms=5000&max_tokens=3"))
    t0 = ms(client.loop.time())
    client.loop.advance(20)
    assert [t - t0 for t, _ in frame_log(client)] == [0, 5000, 10000]


# -- latency models (engine/latency.pyx) -------------------------------------------------------

def test_a_latency_model_sends_each_frame_at_its_drawn_time(loop):
    from fastmock.latency import parse
    itl = parse("uniform:min=5ms,max=40ms")
    c = Client(loop, ttft=parse("constant:30ms"), itl=itl, seed=11)
    t0 = ms(loop.time())
    c.send(get("/stream-sse?max_tokens=40"))
    while stats(c.app).streams:
        loop.jump(0.001)
    log = frame_log(c)
    assert log[0] == (t0, 0)                                   # the head at once
    times = [t for t, n in log[1:] for _ in range(n)][:40]
    assert times[0] == t0 + 30
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(5 <= g <= 41 for g in gaps), gaps               # whole ms, fractions carried
    assert len(set(gaps)) > 10                                 # drawn, not constant
    assert contents(body_of(c)) == list(TOKENS[:40])


def test_the_same_seed_draws_the_same_frame_times(loop):
    from fastmock.latency import parse

    def run(seed):
        c = Client(loop, itl=parse("normal:mean=20ms,stddev=6ms"), seed=seed)
        t0 = ms(loop.time())
        c.send(get("/stream-sse?max_tokens=20"))
        while stats(c.app).streams:
            loop.jump(0.001)
        return [t - t0 for t, n in frame_log(c) if n]

    assert run(5) == run(5) != run(6)


def test_a_stream_past_max_num_seqs_waits_for_one_to_end_then_starts_its_ttft(loop):
    from fastmock.latency import parse
    app = make_app(loop, max_num_seqs=1, ttft=parse("constant:10ms"), itl=parse("constant:10ms"))
    app.clock = loop.time
    first, second = Client(loop, app), Client(loop, app)
    t0 = ms(loop.time())
    first.send(get("/stream-sse?max_tokens=5"))
    second.send(get("/stream-sse?max_tokens=5"))
    assert (app.slots.running, app.slots.waiting) == (1, 1)
    assert second.data().startswith(b"HTTP/1.1 200 OK")       # its head went out at once
    while stats(app).streams:
        loop.jump(0.001)
    first_times = [t - t0 for t, n in frame_log(first) if n]
    second_times = [t - t0 for t, n in frame_log(second) if n]
    assert first_times[:5] == [10, 20, 30, 40, 50]
    assert second_times[0] == first_times[4] + 10              # a slot at 50, then its TTFT
    assert (app.slots.running, app.slots.waiting) == (0, 0)


def test_a_paused_sampled_stream_goes_on_from_its_resume_without_a_burst(loop):
    from fastmock.latency import parse
    c = Client(loop, itl=parse("constant:10ms"))
    t0 = ms(loop.time())
    c.send(get("/stream-sse?max_tokens=30"))
    loop.advance(0.0505)                                       # frames at 0..50 ms
    c.transport.pause()
    loop.advance(0.5)                                          # nothing while paused
    sent = c.data().count(b"data: {")
    c.transport.drain()
    loop.advance(0.0305)
    after = [t - t0 for t, n in frame_log(c) if n][sent:]
    assert after and after[0] >= 550 and all(b - a == 10 for a, b in zip(after, after[1:]))
