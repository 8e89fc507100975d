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
from fastmock.providers.common import Call, Streamed, Whole  # noqa: F401  (the protocol reads)
from fastmock.providers.request import ApiError

log = logging.getLogger("fastmock")


def answer(route, request, path: bytes, query: bytes | None, app, request_id: bytes = b""):
    """Answer one provider request: controls, then the status control, then the handler;
    then the journal's entry (when the journal is on)."""
    api = route.api()
    call = None
    try:
        config = app.config
        ctl = controls.parse(query, request.headers, config.delay_ms, config.ttft_ms)
        if ctl.status >= 400:
            result = api.error(ctl.status, controls.status_message(ctl.status))
        else:
            # --- scripted answers: app.scripts is set only when fixtures are loaded; a fast
            # path that skips this function must not be taken while it is (providers.scripted).
            call = Call(request.method, path, query, request.headers, request.body, ctl,
                        app.frames, app.pacer.stamp_now, app.scripts, config)
            result = route.handler()(call)
    except controls.InvalidControl as exc:
        result = api.error(400, str(exc), exc.param)
    except ApiError as exc:
        result = api.error(exc.status, exc.message, exc.param)
    except Exception:  # a bug must cost one 500, never the connection
        log.exception("error while answering %s", path.decode("latin-1"))
        result = api.error(500, "internal server error")
    journal = app.request_journal()
    if journal is not None:
        record(journal, request, path, call, result, request_id)
    return result


# -- the journal (issue 15) -----------------------------------------------------------------

def record(journal, request, path: bytes, call, result, request_id: bytes) -> None:
    """Journal one provider request and what it was answered; a stream's entry gets the
    tokens it sent when its closing is made (a stream the client left keeps 0)."""
    from fastmock.request_ids import test_id
    body = request.body or b""
    entry = journal.record(request_id.decode("ascii"), request.method.decode("latin-1"),
                           path.decode("utf-8", "replace"), body, _model(body),
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
        if result.fail_after >= 0:      # cut before its closing: the tokens it will send
            entry.tokens = min(result.fail_after, spec.total) if spec.total >= 0 else \
                result.fail_after
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


def error_for(route, status: int, message: str, param: str | None = None) -> Whole:
    """An error answer in the shape of ``route``'s API."""
    return route.api().error(status, message, param)
