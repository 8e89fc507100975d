"""Azure OpenAI: OpenAI's chat, completions and embeddings under a deployment.

    POST /openai/deployments/{deployment}/chat/completions?api-version=2024-10-21
    POST /openai/deployments/{deployment}/completions?api-version=...
    POST /openai/deployments/{deployment}/embeddings?api-version=...
    POST /openai/v1/chat/completions, /completions, /responses, /embeddings   (the v1 API:
         OpenAI's paths under /openai/v1/, the model in the body, api-version optional)

Azure answers a request without ``api-version``, or for an operation it does not know,
with ``404 {"error": {"code": "404", "message": "Resource not found"}}``, and so does
fastmock; any version is taken. The deployment is the model when the body names none
(``openai.AzureOpenAI`` sends both). The answers are OpenAI's (Azure's content-filter
annotations are not added), with every control, fixture and limit the OpenAI routes have.
"""
import json

from fastmock import controls
from fastmock.providers import embeddings, openai
from fastmock.providers.common import Call, Whole
from fastmock.wire import JSON

PREFIX = b"/openai/deployments/"
OPERATIONS = {
    b"chat/completions": lambda: openai.chat,
    b"completions": lambda: openai.completions,
    b"embeddings": lambda: embeddings.embeddings,
}
V1_PREFIX = b"/openai/v1/"
V1_OPERATIONS = {**OPERATIONS, b"responses": lambda: openai.responses_api}
_API_VERSION = (b"api-version",)
_NOT_FOUND = b'{"error":{"code":"404","message":"Resource not found"}}'


def deployments(call: Call):
    deployment, _, operation = call.path[len(PREFIX):].partition(b"/")
    handler = OPERATIONS.get(operation.rstrip(b"/"))
    if not deployment or handler is None or not controls.query_values(call.query, _API_VERSION):
        return Whole(404, JSON, _NOT_FOUND)
    if call.body.lstrip().startswith(b"{") and b'"model"' not in call.body:
        call.body = _with_model(call.body, controls.unquote(deployment, plus=False))
    return handler()(call)


def v1(call: Call):
    """Azure's v1 API: OpenAI's requests as they are, under /openai/v1/."""
    handler = V1_OPERATIONS.get(call.path[len(V1_PREFIX):].rstrip(b"/"))
    if handler is None:
        return Whole(404, JSON, _NOT_FOUND)
    return handler()(call)


def _with_model(body: bytes, deployment: bytes) -> bytes:
    """The body with ``model`` set to the deployment (a body that does not parse is left
    as it is: the OpenAI handler answers it with its own 400)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict):
        return body
    doc["model"] = deployment.decode("utf-8", "replace")
    return json.dumps(doc).encode()
