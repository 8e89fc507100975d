"""The provider APIs (OpenAI, Anthropic, Ollama) behind the one call the protocol makes.

    answer(route, request, path, query, app) -> Whole | Streamed

``route`` is the API route from the route table (its handler, its API's error
shape); ``request`` the parsed request (its ``X-Mock-*`` headers and whole body).
The answer is a complete response (``common.Whole``) or a stream
(``common.Streamed``: a StreamSpec and its pacing); every error, whatever its
cause (a control, the status control, the body, a bug), is a Whole in the API's
own error shape. No client input ever reaches a header line.

This package is imported on the first request for it, so a server that only
serves the seed endpoints never loads it (nor ``json``).
"""
import json
import logging

from fastmock import controls
from fastmock.wire import JSON
from fastmock.providers.common import Call, Streamed, Whole  # noqa: F401  (the protocol reads)
from fastmock.providers.request import ApiError

log = logging.getLogger("fastmock")


def answer(route, request, path: bytes, query: bytes | None, app, request_id: bytes = b""):
    """Answer one provider request: controls, then the status control, then the rate
    limits (when set), then the handler; then the journal's entry (when the journal is on)."""
    api = route.api()
    call = None
    limits, verdict = app.rate_limits, None
    try:
        config = app.config
        ctl = controls.parse(query, request.headers, config.delay_ms, config.ttft_ms)
        if limits is not None and request.method == b"POST":   # listings are not limited
            from fastmock.ratelimit import api_key
            verdict = limits.admit(api_key(request.headers))
        if ctl.status >= 400:
            result = api.error(ctl.status, controls.status_message(ctl.status))
        elif verdict is not None and not verdict.allowed:
            result = refused(api, limits, verdict)
        else:
            # --- scripted answers: app.scripts is set only when fixtures are loaded; a fast
            # path that skips this function must not be taken while it is (providers.scripted).
            call = Call(request.method, path, query, request.headers, request.body, ctl,
                        app.frames, app.pacer.stamp_now, app.scripts, config)
            result = route.handler()(call)
            latency = app.latency_for(request.headers)
            if latency is not None and call.fixture is None:   # a fixture keeps its own pacing
                paced(latency, request, call, result, config)
            if isinstance(result, Streamed) and (query or request.headers
                                                 or result.chaos is not None
                                                 or app.chaos_odds is not None):
                from fastmock.chaos.settings import for_stream
                result.chaos = for_stream(app.chaos_odds, query, request.headers, result.chaos,
                                          result.spec, result.fail_after)
    except controls.InvalidControl as exc:
        result = api.error(400, str(exc), exc.param)
    except ApiError as exc:
        result = api.error(exc.status, exc.message, exc.param)
    except Exception:  # a bug must cost one 500, never the connection
        log.exception("error while answering %s", path.decode("latin-1"))
        result = api.error(500, "internal server error")
    if call is not None:
        generated(call, result)
    if verdict is not None and verdict.allowed:
        limited(api, limits, verdict, call, result)
    journal = app.request_journal()
    if journal is not None:
        record(journal, request, path, call, result, request_id)
    return result


# -- latency models (fastmock.latency) ----------------------------------------------------------

def paced(latency, request, call, result, config) -> None:
    """A stream's TTFT and gaps drawn; a whole answer sent after its TTFT and every gap of
    its tokens, as a server that generates before it answers."""
    if isinstance(result, Whole) and result.status >= 300:
        return
    model = _model(request.body or b"") if latency.profiles else None
    ttft_ms, gaps = latency.plan(call.ctl, request.headers, model, call.prompt_tokens,
                                 config.delay_ms, config.ttft_ms)
    if isinstance(result, Streamed):
        result.ttft_ms, result.gaps = ttft_ms, gaps
    else:
        result.wait_ms = ttft_ms + round(gaps.total(max(call.tokens - 1, 0)))


def generated(call, result) -> None:
    """What vLLM's metrics count of a request: a stream's prompt (the engine counts the
    rest), a whole generated answer's prompt, tokens and finish."""
    if isinstance(result, Streamed):
        result.prompt_tokens = call.prompt_tokens
    elif call.length is not None and result.status < 300:
        result.generated = (call.prompt_tokens, call.tokens, call.length)


# -- rate limits (--rate-limit, fastmock.ratelimit) ------------------------------------------

def refused(api, limits, verdict) -> Whole:
    """429 in the API's own shape, with Retry-After and the API's rate-limit headers."""
    body, message, headers = limits.refusal(api.__name__, verdict)
    result = api.error(429, message) if body is None else Whole(429, JSON, body)
    result.headers = headers
    result.expose = limits.names(api.__name__)
    return result


def limited(api, limits, verdict, call, result) -> None:
    """An admitted request: its tokens out of the buckets, their state in its headers."""
    if call is not None:
        if isinstance(result, Streamed):
            total = result.spec.total
            limits.spend(verdict, call.prompt_tokens, total if total >= 0 else call.tokens)
        elif result.status < 400:
            limits.spend(verdict, call.prompt_tokens, call.tokens)
    result.headers += limits.headers(api.__name__, verdict)
    result.expose = limits.names(api.__name__)


# -- the journal (issue 15) -----------------------------------------------------------------

def record(journal, request, path: bytes, call, result, request_id: bytes) -> None:
    """Journal one provider request and what it was answered; a stream's entry gets the
    tokens it sent when its closing is made (a stream the client left keeps 0)."""
    from fastmock.request_ids import test_id
    body = request.body or b""
    entry = journal.record(request_id.decode("ascii"), request.method.decode("latin-1"),
                           path.decode("utf-8", "replace"), body,
                           _model(body) or _path_model(path),
                           test_id(request.headers), call.fixture if call is not None else None)
    if isinstance(result, Streamed):
        entry.status = 200
        entry.ttft_ms = result.ttft_ms
        spec = result.spec
        closing = spec.closing

        def counted(sent: int, finish: str) -> bytes:
            entry.tokens = sent
            return closing if isinstance(closing, bytes) else closing(sent, finish)

        spec.closing = counted
        fail_after = result.fail_after
        if result.chaos is not None:    # its wire chaos, as X-Mock-Chaos says it (seed too)
            entry.chaos = result.chaos.as_dict()
            fail_after = result.chaos.fail_after
        if fail_after >= 0:             # cut before its closing: the tokens it will send
            entry.tokens = min(fail_after, spec.total) if spec.total >= 0 else fail_after
    else:
        entry.status = result.status
        entry.ttft_ms = result.wait_ms
        entry.tokens = call.tokens if call is not None and result.status < 400 else 0


def _model(body: bytes) -> str | None:
    """The request's ``model`` (the body is parsed again: only with the journal on)."""
    if not body.startswith(b"{"):
        return None
    try:
        model = json.loads(body).get("model")
    except ValueError:
        return None
    return model if isinstance(model, str) else None


def _path_model(path: bytes) -> str | None:
    """The model named by the path: Gemini's ``.../models/{model}:{method}``, Bedrock's
    ``/model/{modelId}/{operation}`` (their bodies name none)."""
    from fastmock.controls import unquote
    if path.startswith(b"/model/"):
        name = path[7:].rpartition(b"/")[0]
    else:
        at = path.rfind(b"/models/")
        name = path[at + 8:].rpartition(b":")[0] if at >= 0 else b""
    return unquote(name, plus=False).decode("utf-8", "replace") if name else None


def error_for(route, status: int, message: str, param: str | None = None) -> Whole:
    """An error answer in the shape of ``route``'s API."""
    return route.api().error(status, message, param)
