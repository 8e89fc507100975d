"""The provider APIs (OpenAI, Anthropic, Ollama) behind the one call the connection makes.

    dispatch(method, path, query, headers, body, config, frames) -> Whole | Streamed

``headers`` are the ``X-Mock-*`` headers the connection kept; ``body`` is the whole
request body. The answer is a complete response (``common.Whole``) or a stream
(``common.Streamed``: a StreamSpec and its pacing); every error, whatever its
cause (a control, the status control, the body), is a Whole in the API's own
error shape. No client input ever reaches a header line.

The provider modules are imported on the first request for them, so a server
that only serves the seed endpoints never loads them (nor ``json``).
"""
import importlib
import logging

from fastmock import controls
from fastmock.providers.common import Call, Streamed, Whole  # noqa: F401  (the engine reads these)
from fastmock.providers.request import ApiError

log = logging.getLogger("fastmock")

# path -> (module, function); keep in step with the API routes in routes.py
ENDPOINTS = {
    b"/v1/chat/completions": ("openai", "chat"),
    b"/v1/completions": ("openai", "completions"),
    b"/v1/responses": ("openai", "responses_api"),
    b"/v1/embeddings": ("embeddings", "embeddings"),
    b"/v1/models": ("openai", "list_models"),
    b"/v1/messages": ("anthropic", "messages"),
    b"/api/generate": ("ollama", "generate"),
    b"/api/chat": ("ollama", "chat"),
    b"/api/tags": ("ollama", "tags"),
    b"/api/version": ("ollama", "version"),
}
MODEL_PREFIX = b"/v1/models/"
_MODEL = ("openai", "get_model")
_modules: dict = {}


def endpoint(path: bytes):
    """(module, function) of an API path, or None."""
    found = ENDPOINTS.get(path)
    if found is None and path.startswith(MODEL_PREFIX):
        return _MODEL
    return found


def _module(name: str):
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = importlib.import_module("fastmock.providers." + name)
    return module


def error_for(path: bytes, status: int, message: str, param: str | None = None) -> Whole:
    """An error answer in the shape of the API that owns ``path`` (OpenAI's by default)."""
    found = endpoint(path)
    return _module(found[0] if found else "openai").error(status, message, param)


def dispatch(method: bytes, path: bytes, query, headers, body: bytes, config, frames):
    """Answer one provider request: controls, then the status control, then the body."""
    name, function = endpoint(path)
    module = _module(name)
    try:
        ctl = controls.parse(query, headers, config.delay_ms, config.ttft_ms)
        if ctl.status >= 400:
            return module.error(ctl.status, f"mock error: status {ctl.status} requested by the "
                                            "status control")
        call = Call(method, path, query, headers, body, ctl, frames)
        return getattr(module, function)(call)
    except controls.InvalidControl as exc:
        return module.error(400, str(exc), exc.param)
    except ApiError as exc:
        return module.error(exc.status, exc.message, exc.param)
    except Exception:  # a bug must cost one 500, never the connection
        log.exception("error while answering %s", path.decode("latin-1"))
        return module.error(500, "internal server error")
