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
import logging

from fastmock import controls
from fastmock.providers.common import Call, Streamed, Whole  # noqa: F401  (the protocol reads)
from fastmock.providers.request import ApiError

log = logging.getLogger("fastmock")


def answer(route, request, path: bytes, query: bytes | None, app):
    """Answer one provider request: controls, then the status control, then the handler."""
    api = route.api()
    try:
        config = app.config
        ctl = controls.parse(query, request.headers, config.delay_ms, config.ttft_ms)
        if ctl.status >= 400:
            return api.error(ctl.status, controls.status_message(ctl.status))
        # --- scripted answers: app.scripts is set only when fixtures are loaded; a fast path
        # that skips this function must not be taken while it is (see providers.scripted).
        call = Call(request.method, path, query, request.headers, request.body, ctl, app.frames,
                    app.pacer.stamp_now, getattr(app, "scripts", None))
        return route.handler()(call)
    except controls.InvalidControl as exc:
        return api.error(400, str(exc), exc.param)
    except ApiError as exc:
        return api.error(exc.status, exc.message, exc.param)
    except Exception:  # a bug must cost one 500, never the connection
        log.exception("error while answering %s", path.decode("latin-1"))
        return api.error(500, "internal server error")


def error_for(route, status: int, message: str, param: str | None = None) -> Whole:
    """An error answer in the shape of ``route``'s API."""
    return route.api().error(status, message, param)
