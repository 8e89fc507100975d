"""Gemini (Google AI's ``generativelanguage`` API), as ``google-genai`` calls it.

    POST /v1beta/models/{model}:generateContent   (also under /v1/models/, google-genai 3's
         default, and Vertex AI's /v1/projects/{p}/locations/{l}/publishers/google/models/
         and /v1beta1/publishers/google/models/: the same answers)
    POST /v1beta/models/{model}:streamGenerateContent?alt=sse   (SSE)
    POST /v1beta/models/{model}:streamGenerateContent           (a JSON array, element by element)
    POST /v1beta/models/{model}:countTokens
    POST /v1beta/models/{model}:embedContent, :batchEmbedContents
    GET  /v1beta/models, /v1beta/models/{model}   (/v1/models is OpenAI's model list)

A streamed answer is one ``GenerateContentResponse`` per token, the last one carrying
``finishReason`` (``STOP``, or ``MAX_TOKENS`` when ``generationConfig.maxOutputTokens``
cut it) and ``usageMetadata``; Gemini has no terminal event. Errors are Google's:
``{"error": {"code": 400, "message": ..., "status": "INVALID_ARGUMENT"}}``.
The text is the corpus (or the prompt, echoed), under every control, latency model and
rate limit, or a fixture's answer (``providers.scripted_cloud``: text, ``functionCall``
parts, thought parts). ``tools`` and ``toolConfig`` are checked, and ``functionCall`` /
``functionResponse`` parts in the history are taken as they come.
"""
from fastmock.controls import unquote
from fastmock.frames import json_string
from fastmock.ids import IDS
from fastmock.providers import request
from fastmock.providers.common import Call, Whole, count_tokens, error_answer, plan
from fastmock.providers.request import ApiError, escape
from fastmock.streamspec import SSE, StreamSpec
from fastmock.wire import JSON

_LISTING = b"/v1beta/models"
# Google's canonical status names (google.rpc.Code), per HTTP status
STATUSES = {
    400: b"INVALID_ARGUMENT", 401: b"UNAUTHENTICATED", 403: b"PERMISSION_DENIED",
    404: b"NOT_FOUND", 409: b"ABORTED", 429: b"RESOURCE_EXHAUSTED", 499: b"CANCELLED",
    500: b"INTERNAL", 501: b"NOT_IMPLEMENTED", 503: b"UNAVAILABLE", 504: b"DEADLINE_EXCEEDED",
}
_ROLES = ("user", "model")
_SSE_END = b"\n\n"
MAX_DIMENSIONS = 3072


def error(status: int, message: str, param: str | None = None) -> Whole:
    if param and param not in message:
        message = f"{param}: {message}"
    kind = STATUSES.get(status, b"INTERNAL" if status >= 500 else b"FAILED_PRECONDITION")
    return error_answer(status, b'{"error":{"code":%d,"message":"%s","status":"%s"}}'
                        % (status, json_string(message), kind))


def models(call: Call):
    """Every request under /v1beta/models: the listing, one model, or ``{model}:{method}``."""
    path = call.path
    if call.method in (b"GET", b"HEAD"):    # (only /v1beta/models routes a GET here)
        rest = path[len(_LISTING):]
        if rest in (b"", b"/"):
            return call.whole(b'{"models":[' + b",".join(map(_model_object, call.frames.served))
                              + b"]}")
        return call.whole(_model_object(escape(_unquoted(rest[1:]))))
    at = path.rfind(b"/models/")
    rest = path[at + 7:] if at >= 0 else b""
    name, colon, method = rest[1:].rpartition(b":")
    handler = _METHODS.get(method) if colon and name else None
    if handler is None:
        raise ApiError(404, f"method not found: {rest.decode('utf-8', 'replace')[:100]}")
    return handler(call, escape(_unquoted(name)))


def _unquoted(raw: bytes) -> str:
    return unquote(raw, plus=False).decode("utf-8", "replace")


def _model_object(name: bytes) -> bytes:
    if not name.startswith(b"models/"):
        name = b"models/" + name
    return (b'{"name":"' + name + b'","version":"001","displayName":"' + name[7:]
            + b'","inputTokenLimit":1048576,"outputTokenLimit":8192,'
            b'"supportedGenerationMethods":["generateContent","countTokens","embedContent"]}')


# -- what a request says ---------------------------------------------------------------------

def _contents(doc: dict) -> list[tuple[str, str]]:
    """(role, text) of each of ``contents`` (a Content, a list of them, or parts' text)."""
    contents = request.required(doc, "contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        raise request.wrong_type("contents", "an array of Content objects", contents)
    items = []
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise request.wrong_type(f"contents[{i}]", "a Content object", content)
        role = content.get("role") or "user"
        if role not in _ROLES:
            raise ApiError(400, f"contents[{i}].role must be 'user' or 'model', got {role!r}",
                           f"contents[{i}].role")
        items.append((role, _parts_text(content, f"contents[{i}]")))
    return items


def _parts_text(content: dict, param: str) -> str:
    return request.blocks_text(content.get("parts"), f"{param}.parts", "Part object")


def _system(doc: dict) -> str:
    system = doc.get("systemInstruction") or doc.get("system_instruction")
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    if not isinstance(system, dict):
        raise request.wrong_type("systemInstruction", "a Content object", system)
    return _parts_text(system, "systemInstruction")


def _limit(doc: dict):
    config = request.obj(doc, "generationConfig") or request.obj(doc, "generation_config") or {}
    return request.token_limit(config, "maxOutputTokens", param="generationConfig.maxOutputTokens")


_MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")


def _field(doc: dict, camel: str, snake: str):
    """``doc[camel]``, or ``doc[snake]``: Google's JSON mapping takes both spellings."""
    value = doc.get(camel)
    return doc.get(snake) if value is None else value


def _tools(doc: dict) -> None:
    """``tools`` (function declarations; other tools, such as googleSearch, pass) and
    ``toolConfig.functionCallingConfig``: checked, a 400 naming the field at fault."""
    tools = _field(doc, "tools", "tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise request.wrong_type("tools", "an array of Tool objects", tools)
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise request.wrong_type(f"tools[{i}]", "a Tool object", tool)
            declared = _field(tool, "functionDeclarations", "function_declarations")
            where = f"tools[{i}].functionDeclarations"
            if declared is None:
                continue
            if not isinstance(declared, list):
                raise request.wrong_type(where, "an array of FunctionDeclaration objects",
                                         declared)
            for j, function in enumerate(declared):
                if not isinstance(function, dict):
                    raise request.wrong_type(f"{where}[{j}]", "a FunctionDeclaration", function)
                name = function.get("name")
                if not isinstance(name, str) or not name:
                    raise ApiError(400, f"{where}[{j}].name is required: a function's name",
                                   f"{where}[{j}].name")
    config = _field(doc, "toolConfig", "tool_config")
    if config is None:
        return
    if not isinstance(config, dict):
        raise request.wrong_type("toolConfig", "a ToolConfig object", config)
    calling = _field(config, "functionCallingConfig", "function_calling_config")
    if calling is None:
        return
    where = "toolConfig.functionCallingConfig"
    if not isinstance(calling, dict):
        raise request.wrong_type(where, "a FunctionCallingConfig object", calling)
    mode = calling.get("mode")
    if mode is not None and mode not in _MODES:
        raise ApiError(400, f"{where}.mode must be one of {', '.join(_MODES)}, got {mode!r}",
                       f"{where}.mode")
    names = _field(calling, "allowedFunctionNames", "allowed_function_names")
    if names is not None and not (isinstance(names, list)
                                  and all(isinstance(n, str) for n in names)):
        raise request.wrong_type(f"{where}.allowedFunctionNames", "an array of strings", names)


# -- generateContent ---------------------------------------------------------------------------

def generate(call: Call, model: bytes):
    return _generate(call, model, stream=False)


def stream_generate(call: Call, model: bytes):
    return _generate(call, model, stream=True)


def _generate(call: Call, model: bytes, stream: bool):
    doc = request.parse(call.body)
    items = _contents(doc)
    limit = _limit(doc)
    _tools(doc)
    prompt = call.prompt_tokens = count_tokens(_system(doc), *(text for _, text in items))
    sse = b"alt=sse" in (call.query or b"")
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.gemini(call, doc, model, prompt, stream, sse)
        if answer is not None:
            return answer
    user = [text for role, text in items if role == "user"]
    p = plan(call, user[-1] if user else "", limit, whole=not stream)
    finish = b"MAX_TOKENS" if p.length else b"STOP"
    response_id = IDS.new(b"")
    if not stream:
        return call.whole(_response(p.text(), model, response_id, finish, prompt, p.total))
    head = b'{"candidates":[{"content":{"parts":[{"text":"'
    ids = b'"modelVersion":"' + model + b'","responseId":"' + response_id + b'"}'
    tail = b'"}],"role":"model"},"index":0}],' + ids
    # the last token's response carries the finish reason and the usage, as Gemini's does
    last = _response(b"\0", model, response_id, finish, prompt, p.total).partition(b"\0")[2]
    end = _SSE_END if sse else b""

    def closing(sent: int, reason: str) -> bytes:
        if sent:                    # everything went out with the last token
            return b"" if sse else b"]"
        empty = _response(b"", model, response_id, reason.encode(), prompt, 0)
        return b"data: " + empty + _SSE_END if sse else empty + b"]"

    return call.streamed(StreamSpec(
        content_type=SSE if sse else JSON, tokens=p.tokens, total=p.total,
        opening=b"" if sse else b"[", first_prefix=(b"data: " if sse else b"") + head,
        prefix=b"data: " + head if sse else b",\r\n" + head, suffix=tail + end,
        last_suffix=last + end, finish=finish.decode(), closing=closing))


def _response(text: bytes, model: bytes, response_id: bytes, finish: bytes, prompt: int,
              completion: int) -> bytes:
    return (b'{"candidates":[{"content":{"parts":[{"text":"' + text + b'"}],"role":"model"},'
            b'"finishReason":"' + finish + b'","index":0}],"usageMetadata":{"promptTokenCount":%d,'
            b'"candidatesTokenCount":%d,"totalTokenCount":%d,"promptTokensDetails":'
            b'[{"modality":"TEXT","tokenCount":%d}]},"modelVersion":"' % (prompt, completion,
                                                                         prompt + completion, prompt)
            + model + b'","responseId":"' + response_id + b'"}')


# -- countTokens, embedContent -----------------------------------------------------------------

def count(call: Call, model: bytes):
    doc = request.parse(call.body)
    request_doc = request.obj(doc, "generateContentRequest")
    source = request_doc if request_doc is not None else doc
    tokens = count_tokens(_system(source), *(text for _, text in _contents(source)))
    return call.whole(b'{"totalTokens":%d,"promptTokensDetails":[{"modality":"TEXT",'
                      b'"tokenCount":%d}]}' % (tokens, tokens))


def embed(call: Call, model: bytes):
    doc = request.parse(call.body)
    return call.whole(b'{"embedding":' + _embedding(doc, "") + b"}")


def batch_embed(call: Call, model: bytes):
    doc = request.parse(call.body)
    requests = request.array(doc, "requests", required=True)
    vectors = []
    for i, item in enumerate(requests):
        if not isinstance(item, dict):
            raise request.wrong_type(f"requests[{i}]", "an EmbedContentRequest", item)
        vectors.append(_embedding(item, f"requests[{i}]."))
    return call.whole(b'{"embeddings":[' + b",".join(vectors) + b"]}")


def _embedding(doc: dict, where: str) -> bytes:
    from fastmock.providers.embeddings import DIMENSIONS, embedding   # floats: only here
    content = request.obj(doc, "content", param=where + "content")
    if content is None:
        raise request.missing(where + "content")
    text = _parts_text(content, where + "content")
    dims = request.integer(doc, "outputDimensionality", 1, MAX_DIMENSIONS,
                           param=where + "outputDimensionality") or DIMENSIONS
    vector = embedding(text.encode(), dims)
    return b'{"values":[' + ",".join(f"{v:.9g}" for v in vector).encode() + b"]}"


_METHODS = {
    b"generateContent": generate, b"streamGenerateContent": stream_generate,
    b"countTokens": count, b"embedContent": embed, b"batchEmbedContents": batch_embed,
}
