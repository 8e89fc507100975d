"""StreamSpec: everything the engine needs to stream one response, as pre-encoded bytes.

An API module (seed, OpenAI, Anthropic, Ollama) decides *what* a stream says; the
engine decides *when* each frame goes out and how it is framed on the wire (chunked
for HTTP/1.1, close-delimited for HTTP/1.0). Between the two there is only this
object: no JSON is encoded per token, the engine only joins the pieces below.

A stream on the wire, before HTTP framing:

    opening                                   (sent with the head, before the TTFT wait)
    frame(0) frame(1) ... frame(total - 1)    (paced: ttft_ms, then delay_ms apart)
    closing(sent, finish)                     (unless fail_after cut the stream)

and every frame is

    splice [stamp] prefix token suffix [str(seq_base + n) seq_tail [str(seq2_base + n) seq2_tail]]

where ``prefix`` is ``first_prefix`` for frame 0 and ``suffix`` is ``last_suffix``
for the last frame when that is set (the seed /stream-sse puts finish_reason there).
The running numbers are the Responses API's sequence_number, or the completion and
total tokens of an OpenAI stream with continuous usage (vLLM's continuous_usage_stats).

``splice`` is bytes, or a template ``(head, number, tail)`` meaning ``head`` + the
16 lower-case hex digits of ``number`` + ``tail``: a unique id in every frame
without a bytes object per response, since head and tail are shared (a few
hundred bytes less per open stream).
"""

# The content types of a stream: Server-Sent Events, or newline-delimited JSON (Ollama).
SSE = b"text/event-stream"
NDJSON = b"application/x-ndjson"


class StreamSpec:
    __slots__ = ("content_type", "opening", "splice", "stamp", "first_prefix", "prefix",
                 "suffix", "last_suffix", "seq_base", "seq_tail", "seq2_base", "seq2_tail",
                 "tokens", "total", "finish", "closing")

    def __init__(self, *, content_type: bytes, tokens: tuple, total: int, splice: bytes = b"",
                 prefix: bytes = b"", suffix: bytes = b"", first_prefix: bytes | None = None,
                 last_suffix: bytes | None = None, opening: bytes = b"", stamp: bool = False,
                 seq_base: int = -1, seq_tail: bytes = b"", seq2_base: int = -1,
                 seq2_tail: bytes = b"", finish: str = "stop", closing=b"") -> None:
        self.content_type = content_type  # SSE or NDJSON
        self.opening = opening            # events before the first token (b"" = none)
        self.splice = splice              # per-response bytes at the start of every frame (or a template)
        self.stamp = stamp                # Ollama: the shared created_at stamp follows the splice
        self.first_prefix = prefix if first_prefix is None else first_prefix
        self.prefix = prefix              # between splice (and stamp) and the token
        self.suffix = suffix              # after the token
        self.last_suffix = last_suffix    # after the last token instead of suffix, if set
        self.seq_base = seq_base          # Responses API: sequence_number of frame 0; -1 = none
        self.seq_tail = seq_tail          # after the sequence number
        self.seq2_base = seq2_base        # a second running number, after seq_tail; -1 = none
        self.seq2_tail = seq2_tail        # after the second number
        self.tokens = tokens              # JSON-escaped token bodies, cycled when total > len
        self.total = total                # frames to send; -1 = until the client leaves
        self.finish = finish              # the finish reason closing() is given at the end
        self.closing = closing            # bytes, or a callable (sent, finish) -> bytes

    def frame(self, n: int, stamp: bytes = b"") -> bytes:
        """Frame ``n`` as the engine must send it (the reference the engine is tested against)."""
        tokens = self.tokens
        splice = self.splice
        if isinstance(splice, tuple):
            head, number, tail = splice
            splice = b"%s%016x%s" % (head, number, tail)
        parts = [splice]
        if self.stamp:
            parts.append(stamp)
        parts.append(self.first_prefix if n == 0 else self.prefix)
        parts.append(tokens[n % len(tokens)])
        last = self.last_suffix is not None and n == self.total - 1
        parts.append(self.last_suffix if last else self.suffix)
        if self.seq_base >= 0:
            parts.append(b"%d" % (self.seq_base + n))
            parts.append(self.seq_tail)
            if self.seq2_base >= 0:
                parts.append(b"%d" % (self.seq2_base + n))
                parts.append(self.seq2_tail)
        return b"".join(parts)

    def closing_bytes(self, sent: int) -> bytes:
        closing = self.closing
        return closing if isinstance(closing, bytes) else closing(sent, self.finish)
