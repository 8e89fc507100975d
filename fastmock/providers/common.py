"""What every provider API module shares: the request it is given, the answers it returns.

An API module gets a ``Call`` (the parsed controls, the body, the server's corpus)
and returns one of two answers for the engine:

- ``Whole``: a complete response (status, content type, body, extra header lines),
  sent ``wait_ms`` after the request (the TTFT of a non-streamed answer); when
  ``cut`` is set, only the head and the first half of the body go out and the
  connection is cut (``fail_after`` on a non-streamed answer).
- ``Streamed``: a StreamSpec and its pacing (delay, TTFT, fail_after).

It also holds the rules every API applies the same way: what the content is
(the corpus, or the prompt echoed back), how many tokens are sent and whether
the body's own limit is what stopped them, error answers, and prompt token counts
(ids come from fastmock.ids, for the seed streams too).
"""
import time

from fastmock import controls
from fastmock.frames import cycled, split_tokens
from fastmock.wire import JSON, retry_after
from fastmock.providers.request import ApiError, escape

ECHO_PREFIX = "echo:"


class Whole:
    __slots__ = ("status", "content_type", "body", "headers", "expose", "wait_ms", "cut",
                 "generated")

    def __init__(self, status: int, content_type: bytes, body: bytes, headers: bytes = b"",
                 wait_ms: int = 0, cut: bool = False) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers = headers        # extra CRLF-ended header lines; never client input
        self.expose = b""             # names of those page code may read (wire.exposing)
        self.wait_ms = wait_ms
        self.cut = cut
        self.generated = None         # a generated answer's (prompt tokens, tokens, length
                                      # ended it), for vLLM's metrics; None: not one


class Streamed:
    __slots__ = ("spec", "delay_ms", "ttft_ms", "fail_after", "headers", "expose", "gaps",
                 "chaos", "prompt_tokens")

    def __init__(self, spec, delay_ms: int, ttft_ms: int, fail_after: int,
                 headers: bytes = b"", chaos=None) -> None:
        self.spec = spec
        self.delay_ms = delay_ms
        self.ttft_ms = ttft_ms
        self.fail_after = fail_after
        self.headers = headers        # extra CRLF-ended header lines; never client input
        self.expose = b""             # names of those page code may read (wire.exposing)
        self.gaps = None              # a latency model's draws (fastmock.latency), or None
        # wire chaos (fastmock.chaos.settings.Chaos): the fixture's, then (dispatch) the
        # stream's resolved settings; None = a plain stream
        self.chaos = chaos
        self.prompt_tokens = 0        # the request's, for vLLM's metrics


def error_answer(status: int, body: bytes) -> Whole:
    """An error in an API's own shape (``body``), sent at once, with wire.retry_after's header."""
    return Whole(status, JSON, body, retry_after(status))


class Call:
    """One provider request, as the API modules see it."""

    __slots__ = ("method", "path", "query", "headers", "body", "ctl", "frames", "stamp", "echo",
                 "script", "config", "fixture", "tokens", "prompt_tokens", "length")

    def __init__(self, method: bytes, path: bytes, query, headers, body: bytes, ctl,
                 frames, stamp, script=None, config=None) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers        # the X-Mock-* headers kept by the connection, or None
        self.body = body
        self.ctl = ctl                # controls.Controls: delay_ms, ttft_ms, max_tokens, ...
        self.frames = frames          # the server's Frames: corpus and default model names
        self.stamp = stamp            # () -> created_at now: the pacer's stamp, as streams carry
        self.echo = controls.echo(query, headers)
        # Scripted answers (providers.scripted.Scripts), None without fixtures: a handler
        # asks it once its body is checked, and answers from the corpus when it says None.
        self.script = script
        self.config = config          # the server's Config (flags that shape answers), or None
        # for the journal (issue 15): the fixture that answered (its label), the tokens planned
        self.fixture = None
        self.tokens = 0
        self.prompt_tokens = 0        # what the handler counted (the rate limits take it)
        self.length = None            # plan(): True when the body's limit ended the answer;
                                      # None: nothing was generated (vLLM's metrics)

    def whole(self, body: bytes, status: int = 200, content_type: bytes = JSON) -> Whole:
        """A non-streamed answer under this request's controls (TTFT wait, fail_after cut)."""
        return Whole(status, content_type, body, wait_ms=self.ctl.ttft_ms,
                     cut=self.ctl.fail_after >= 0)

    def streamed(self, spec) -> Streamed:
        ctl = self.ctl
        return Streamed(spec, ctl.delay_ms, ctl.ttft_ms, ctl.fail_after)


# -- content and token counts -------------------------------------------------------------

class Plan:
    """What a response says: its tokens (JSON-escaped), how many are sent, and why it ends."""

    __slots__ = ("tokens", "total", "length")

    def __init__(self, tokens: tuple, total: int, length: bool) -> None:
        self.tokens = tokens          # cycled when total > len(tokens)
        self.total = total
        self.length = length          # True when the body's own limit stopped the output

    def text(self, sent: int | None = None) -> bytes:
        """The JSON-escaped text of the first ``sent`` tokens (all of them by default)."""
        return joined(self.tokens, self.total if sent is None else sent)


# A document that holds the whole text (a non-streamed answer, the closing events of a
# Responses stream) is built in memory at once; the max_tokens control may not make it
# longer than this (or the content's own length, which the server already holds).
MAX_WHOLE_TOKENS = 65_536


def plan(call: Call, prompt: str, body_limit, whole: bool = False,
         content: str | None = None, ignore_eos: bool = False, min_tokens: int = 0) -> Plan:
    """The tokens of an answer and how many are sent.

    Content: ``content`` when given (a structured output: see providers.structured),
    else the prompt after ``echo:`` (or the whole prompt with X-Mock-Echo), else
    the corpus. Count: the ``max_tokens`` control if given (it overrides the body),
    else the content's natural length (at least ``min_tokens``; the body's whole
    limit with ``ignore_eos``) capped by the body's limit; ``length`` is True
    exactly when that body limit is what cut the content short (always, with
    ``ignore_eos``). Past its end the content cycles, parted by a space.
    """
    if content is not None:
        tokens = echo_tokens(content)
    elif call.echo:
        tokens = echo_tokens(prompt)
    elif prompt.startswith(ECHO_PREFIX):
        tokens = echo_tokens(prompt[len(ECHO_PREFIX):].lstrip())
    else:
        tokens = call.frames.corpus.escaped
    natural = len(tokens)
    if not tokens:
        tokens = (b"",)
    control = call.ctl.max_tokens
    if control > 0:
        total, length, why = control, False, "max_tokens"
    else:
        wanted = max(natural, min_tokens)
        if body_limit is not None and (ignore_eos or body_limit < wanted):
            total, length = body_limit, True
        else:
            total, length = wanted, False
        why = "ignore_eos" if ignore_eos else "min_tokens"
    if whole and total > max(MAX_WHOLE_TOKENS, natural):
        what = "max_tokens" if why == "max_tokens" else f"an answer ({why}) of {total} tokens"
        raise ApiError(400, f"{what} above {MAX_WHOLE_TOKENS} needs a stream: this answer "
                            "holds the whole text at once", why)
    p = Plan(cycled(tokens) if total > natural else tokens, total, length)
    call.tokens = p.total
    call.length = p.length
    return p


def echo_tokens(text: str) -> tuple:
    return tuple(escape(t) for t in split_tokens(text))


def count_tokens(*texts: str) -> int:
    """Prompt tokens: the same whitespace tokenisation as the corpus (a token keeps its space)."""
    return sum(len(split_tokens(t)) for t in texts if t)


def joined(tokens: tuple, n: int) -> bytes:
    """The first ``n`` tokens of ``tokens`` cycled, joined."""
    count = len(tokens)
    whole, rest = divmod(n, count)
    return b"".join(tokens) * whole + b"".join(tokens[:rest])


def now() -> int:
    """``created``: the Unix time of an answer, in seconds."""
    return int(time.time())
