"""A stream with wire chaos, rendered lazily to timed writes and an ending.

Three stages, each a generator, so an endless stream (/stream-loop) is rendered only
as far as it is sent:

1. ``events``: the stream's events (each SSE event, each NDJSON line) with the time
   each is due (ms from the start: the opening at 0, frame n at ttft + n * delay, and
   from token ``stall_at`` on, ``stall_ms`` later), keep-alive comments on their own
   grid, a duplicated or malformed frame, the closing's last event dropped, CRLF line
   ends; then how the stream ends.
2. ``writes``: events grouped (``coalesce``), cut in pieces (``fragment``: the pieces
   of one event GAP_MS apart) or trickled (``trickle_bytes`` every ``trickle_ms``).
3. ``framed``: each write as one HTTP chunk when the stream is chunked (so a write is
   what the client's HTTP layer hands its stream parser), then the ending.

An item is ``(at_ms, data, tokens, ending)``: ``tokens`` token frames complete in
``data``, and ``ending`` is 0, or on the last item one of END_CLEAN, END_CLOSE,
END_RESET (``data`` is then the chunked terminator, or the cut frame's first bytes).
"""
from fastmock.streamspec import NDJSON

END_CLEAN = -1          # the stream's end (then the next request, or the close)
END_CLOSE = -2          # a cut by FIN (fail_after; fail_mode close or truncate)
END_RESET = -3          # a cut by RST (fail_mode reset)
END_TRUNCATE = -4       # a cut by FIN in the middle of a frame: stages 1 and 2 only
# Between two pieces of one fragmented event: the pieces are separate send(2) calls
# on a TCP_NODELAY socket, and this gap lets a reader's recv() return between them.
GAP_MS = 1
KEEPALIVE = b": keep-alive\n\n"
CHUNK_END = b"0\r\n\r\n"
KEEPALIVE_EVENT = 2     # events' kinds: a token frame is 1, anything else 0


def events(spec, chaos, delay_ms: int, ttft_ms: int, stamp, rng):
    """Stage 1: (at_ms, event, kind) ..., then (at_ms, partial, ending)."""
    ndjson = spec.content_type == NDJSON
    sep = b"\n" if ndjson else b"\n\n"
    crlf = chaos.crlf
    keepalive = 0 if ndjson else chaos.keepalive_ms
    next_keepalive = keepalive
    total, fail_after = spec.total, chaos.fail_after
    stall_from = chaos.stall_at - 1 if chaos.stall_ms else -1

    def line_ends(data: bytes) -> bytes:
        return data.replace(b"\n", b"\r\n") if crlf else data

    def due(n: int) -> int:
        at = ttft_ms + n * delay_ms
        return at + chaos.stall_ms if 0 <= stall_from <= n else at

    def comments_until(at: int):
        nonlocal next_keepalive
        while keepalive and next_keepalive <= at:
            yield next_keepalive, line_ends(KEEPALIVE), KEEPALIVE_EVENT
            next_keepalive += keepalive

    for event in split_events(spec.opening, sep):
        yield 0, line_ends(event), 0
    n = 0
    at = 0
    while total < 0 or n < total:
        at = due(n)
        if n == fail_after:
            break
        yield from comments_until(at)
        frame = spec.frame(n, stamp() if spec.stamp else b"")
        if n + 1 == chaos.malformed_at:
            frame = malformed(frame)
        yield at, line_ends(frame), 1
        if n + 1 == chaos.duplicate_at:
            yield at, line_ends(frame), 1
        n += 1
    if 0 <= fail_after == n and (total < 0 or n < total):
        if chaos.fail_mode == "truncate":
            yield from comments_until(at)
            frame = line_ends(spec.frame(n, stamp() if spec.stamp else b""))
            cut = _in_json(frame, rng) or max(1, len(frame) // 2)
            yield at, (frame[:cut], len(frame)), END_TRUNCATE
        else:   # when token fail_after + 1 was due, as the truncated frame would be
            yield from comments_until(at)
            yield at, b"", END_RESET if chaos.fail_mode == "reset" else END_CLOSE
        return
    closing = split_events(spec.closing_bytes(n), sep)
    if chaos.drop_done and closing:
        closing.pop()
    for event in closing:
        yield at, line_ends(event), 0
    yield at, b"", END_CLEAN


def split_events(data: bytes, sep: bytes) -> list:
    """``data`` cut after each ``sep`` (an SSE event's blank line, an NDJSON line's end)."""
    out = []
    start = 0
    while start < len(data):
        end = data.find(sep, start)
        end = len(data) if end < 0 else end + len(sep)
        out.append(data[start:end])
        start = end
    return out


def malformed(frame: bytes) -> bytes:
    """The frame with broken JSON: its last closing brace left out."""
    at = frame.rfind(b"}")
    return frame[:at] + frame[at + 1:] if at >= 0 else frame + b"{"


def writes(items, chaos, rng):
    """Stage 2: (at_ms, data, tokens, ending) per write, in order, at_ms never decreasing.
    A keep-alive comment is never grouped or cut; it (or the end) sends what is grouped."""
    if chaos.trickle_bytes:
        yield from _trickled(items, chaos.trickle_bytes, chaos.trickle_ms)
        return
    cut = chaos.fragment or chaos.fragment_bytes
    last = 0
    group, group_tokens = [], 0
    for at, data, kind in items:
        last = max(last, at)
        if kind < 0 or kind == KEEPALIVE_EVENT:
            if group:
                for item in _pieces(last, b"".join(group), group_tokens, chaos, rng):
                    last = item[0] + (GAP_MS if cut else 0)
                    yield item
                group, group_tokens = [], 0
            yield last, data, 0, (kind if kind < 0 else 0)
            if kind < 0:
                return
            continue
        tokens = 1 if kind == 1 else 0
        if chaos.coalesce:
            group.append(data)
            group_tokens += tokens
            if len(group) < chaos.coalesce:
                continue
            data, tokens = b"".join(group), group_tokens
            group, group_tokens = [], 0
        for item in _pieces(last, data, tokens, chaos, rng):
            last = item[0] + (GAP_MS if cut else 0)
            yield item


def _pieces(at: int, data: bytes, tokens: int, chaos, rng):
    if not (chaos.fragment or chaos.fragment_bytes):
        yield at, data, tokens, 0
        return
    cuts = fragment_cuts(data, chaos.fragment, chaos.fragment_bytes, rng)
    bounds = [0, *cuts, len(data)]
    for i in range(len(bounds) - 1):
        last = i == len(bounds) - 2
        yield at + i * GAP_MS, data[bounds[i]:bounds[i + 1]], tokens if last else 0, 0


def _trickled(items, size: int, every_ms: int):
    """The body as one byte stream, ``size`` bytes every ``every_ms``."""
    buffer = bytearray()
    tokens = 0
    t = 0
    pending = None
    items = iter(items)
    while True:
        if pending is None:
            pending = next(items)
        at, data, kind = pending
        if kind >= 0 and (at <= t or not buffer):
            buffer += data
            tokens += kind == 1
            t = max(t, at)
            pending = None
            continue
        if buffer:
            yield t, bytes(buffer[:size]), tokens, 0
            del buffer[:size]
            tokens = 0
            t += every_ms
            continue
        yield max(t, at), data, 0, kind     # the ending (the cut frame's bytes whole)
        return


def fragment_cuts(event: bytes, pieces: int, piece_bytes: int, rng) -> list:
    """Where an event is cut (sorted offsets, 0 < cut < len): every ``piece_bytes``, or
    ``pieces - 1`` cuts: first inside a multi-byte UTF-8 character when there is one,
    then, in a seeded order, inside ``data:``, between the last two line ends and inside
    the JSON, each at a seeded byte; then at seeded bytes anywhere."""
    size = len(event)
    if piece_bytes:
        return list(range(piece_bytes, size, piece_bytes))
    wanted = min(pieces - 1, size - 1)
    cuts = []
    first = _in_character(event, rng)
    if first is not None:
        cuts.append(first)
    others = [cut for cut in (_in_prefix(event, rng), _between_line_ends(event),
                              _in_json(event, rng)) if cut is not None and cut not in cuts]
    while others and len(cuts) < wanted:
        cuts.append(others.pop(int(rng.random() * len(others))))
    cuts = set(cuts[:wanted])
    while len(cuts) < wanted:
        cuts.add(1 + int(rng.random() * (size - 1)))
    return sorted(cuts)


def _in_character(event: bytes, rng):
    """Between the bytes of a multi-byte UTF-8 character (a seeded one)."""
    inside = [i for i, byte in enumerate(event) if 0x80 <= byte < 0xC0]
    return inside[int(rng.random() * len(inside))] if inside else None


def _in_prefix(event: bytes, rng):
    at = event.find(b"data:")
    return at + 1 + int(rng.random() * 4) if at >= 0 else None


def _between_line_ends(event: bytes):
    """SSE: between the line end of the data line and the blank line's; NDJSON: before
    the line's end."""
    if event.endswith(b"\r\n\r\n"):
        return len(event) - 2
    if event.endswith(b"\n\n"):
        return len(event) - 1
    if event.endswith(b"\r\n"):
        return len(event) - 2
    if event.endswith(b"\n") and len(event) > 1:
        return len(event) - 1
    return None


def _in_json(event: bytes, rng):
    start, end = event.find(b"{"), event.rfind(b"}")
    if start < 0 or end - start < 2:
        return None
    return start + 1 + int(rng.random() * (end - start - 1))


def framed(items, chunked: bool):
    """Stage 3: each write as its own HTTP chunk (chunked streams), and the ending."""
    for at, data, tokens, ending in items:
        if not chunked:
            if ending == END_TRUNCATE:
                data, ending = data[0], END_CLOSE
            yield at, data, tokens, ending
        elif ending == END_CLEAN:
            yield at, CHUNK_END, tokens, ending
        elif ending == END_TRUNCATE:
            # the cut frame: its chunk's size line promises the whole frame, then it stops
            part, whole = data
            yield at, b"%x\r\n%s" % (whole, part), tokens, END_CLOSE
        elif ending:
            yield at, data, tokens, ending
        elif data:
            yield at, b"%x\r\n%s\r\n" % (len(data), data), tokens, ending
