"""Ollama-compatible ``/api/generate``, ``/api/chat`` (NDJSON by default), ``/api/tags``,
``/api/version``, ``/api/show``, ``/api/ps``, ``/api/pull``, ``/api/embed``, ``/api/embeddings``.

A stream line is ``{"model":"M","created_at":"<stamp>`` (splice and stamp), then
constant pieces around the pre-escaped token; the closing ``done: true`` line
carries ``done_reason`` and the count/duration fields, computed when it is sent.
The line shapes (and the durations' rule) are _chunks', through frames.
"""
import binascii
import time

from fastmock.frames import (OLLAMA_CHAT, OLLAMA_GENERATE, STATIC_CREATED_AT, json_string,
                             ollama_done, ollama_line_pieces, ollama_splice)
from fastmock.providers import request, structured
from fastmock.providers.common import Call, Whole, count_tokens, error_answer, plan
from fastmock.streamspec import NDJSON, StreamSpec

VERSION = b"0.9.0"                 # the Ollama API version /api/version reports
EMBEDDING_DIMENSIONS = 768          # nomic-embed-text's, the embedding model Ollama suggests
_DETAILS = (b'{"parent_model":"","format":"gguf","family":"llama","families":["llama"],'
            b'"parameter_size":"8.0B","quantization_level":"Q4_0"}')
_SIZE = 4661224676


def error(status: int, message: str, param: str | None = None) -> Whole:
    return error_answer(status, b'{"error":"' + json_string(message) + b'"}')


# The text field of each endpoint's lines, and the pieces around a token of its stream.
_GENERATE = (OLLAMA_GENERATE,) + ollama_line_pieces(OLLAMA_GENERATE)
_CHAT = (OLLAMA_CHAT,) + ollama_line_pieces(OLLAMA_CHAT)


def _limit(doc: dict):
    """``options.num_predict``: a positive cap; -1, -2 (and 0) mean no cap."""
    options = request.obj(doc, "options")
    if options is None:
        return None
    value = request.token_limit(options, "num_predict", -2, param="options.num_predict")
    return value if value is not None and value > 0 else None


def generate(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    prompt_text = request.string(doc, "prompt")
    system = request.string(doc, "system") or ""
    stream = request.boolean(doc, "stream", default=True)
    limit = _limit(doc)
    if prompt_text is None:       # Ollama's "load the model" request: one done object
        return _loaded(call, model, OLLAMA_GENERATE)
    prompt = call.prompt_tokens = count_tokens(system, prompt_text)
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.ollama_generate(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    return _answer(call, model, prompt, prompt_text, limit, stream, _GENERATE,
                   structured.ollama_content(doc), context=True)  # issue 15: structured outputs


def chat(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    items = request.messages(doc, required=False)
    stream = request.boolean(doc, "stream", default=True)
    limit = _limit(doc)
    if not items:
        return _loaded(call, model, OLLAMA_CHAT)
    prompt = call.prompt_tokens = count_tokens(*(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.ollama_chat(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    return _answer(call, model, prompt, request.last_text(items), limit, stream, _CHAT,
                   structured.ollama_content(doc))               # issue 15: structured outputs


def _loaded(call: Call, model: bytes, field: tuple):
    """The answer to a request that only loads the model: one done line, no text."""
    line = ollama_done(ollama_splice(model), call.stamp(), field, b"", "load")
    return call.whole(line[:-1])


def _answer(call: Call, model: bytes, prompt: int, prompt_text: str, limit, stream: bool,
            pieces: tuple, content: str | None = None, context: bool = False):
    """``context``: /api/generate's final object carries Ollama's ``context``."""
    p = plan(call, prompt_text, limit, whole=not stream, content=content)
    reason = "length" if p.length else "stop"
    splice = ollama_splice(model)
    field, prefix, suffix = pieces
    started = time.monotonic_ns()
    if not stream:
        # made now and sent after the TTFT wait, which counts in its total
        took = time.monotonic_ns() - started + call.ctl.ttft_ms * 1_000_000
        line = ollama_done(splice, call.stamp(), field, p.text(), reason, prompt, p.total, took,
                           context)
        return call.whole(line[:-1])

    def closing(sent: int, finish: str) -> bytes:
        # made when the stream ends: the TTFT wait is already in the time it took
        return ollama_done(splice, call.stamp(), field, b"", finish, prompt, sent,
                           time.monotonic_ns() - started, context)

    return call.streamed(StreamSpec(
        content_type=NDJSON, tokens=p.tokens, total=p.total, splice=splice, stamp=True,
        prefix=prefix, suffix=suffix, finish=reason, closing=closing))


def _digest(name: bytes) -> bytes:
    """A stable 64-hex-digit digest for a model name (eight CRC-32s; no hashlib)."""
    return b"".join(b"%08x" % binascii.crc32(name, seed) for seed in range(8))


def _tag(name: bytes) -> bytes:
    return (b'{"name":"' + name + b'","model":"' + name + b'","modified_at":"'
            + STATIC_CREATED_AT + b'","size":%d,"digest":"' % _SIZE + _digest(name) + b'","details":'
            + _DETAILS + b"}")


def tags(call: Call):
    """--model, the --served-model-name ones, then every model pulled since start."""
    frames = call.frames
    return call.whole(b'{"models":[' + b",".join(map(_tag, frames.ollama_served
                                                     + tuple(frames.ollama_pulled))) + b"]}")


def version(call: Call):
    return call.whole(b'{"version":"' + VERSION + b'"}')


# -- the model management API: show, ps, pull; embeddings ------------------------------------


def _name(doc: dict) -> bytes:
    """The model a management request names: ``model``, or the older ``name``."""
    if "model" not in doc and isinstance(doc.get("name"), str) and doc["name"]:
        return request.escape(doc["name"])
    return request.model(doc)


def show(call: Call):
    """POST /api/show: any model, described as a plausible llama (what UIs and
    langchain-ollama read: details, model_info, capabilities, the template)."""
    doc = request.parse(call.body)
    name = _name(doc)
    request.boolean(doc, "verbose")
    return call.whole(
        b'{"license":"","modelfile":"# Modelfile generated by fastmock\\nFROM ' + name
        + b'\\nTEMPLATE \\"{{ .Prompt }}\\"\\nPARAMETER stop <|eot_id|>\\n",'
        b'"parameters":"stop                           \\"<|eot_id|>\\"",'
        b'"template":"{{ if .System }}{{ .System }}\\n{{ end }}{{ .Prompt }}",'
        b'"details":' + _DETAILS + b',"model_info":{"general.architecture":"llama",'
        b'"general.basename":"' + name + b'","general.file_type":2,'
        b'"general.parameter_count":8030261248,"general.quantization_version":2,'
        b'"llama.attention.head_count":32,"llama.attention.head_count_kv":8,'
        b'"llama.block_count":32,"llama.context_length":8192,"llama.embedding_length":4096,'
        b'"llama.feed_forward_length":14336,"llama.vocab_size":128256,'
        b'"tokenizer.ggml.model":"gpt2"},"capabilities":["completion","tools"],'
        b'"modified_at":"' + STATIC_CREATED_AT + b'"}')


def ps(call: Call):
    """GET /api/ps: the served models, loaded for the next five minutes."""
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300)).encode()
    return call.whole(b'{"models":[' + b",".join(
        b'{"name":"' + name + b'","model":"' + name + b'","size":%d,"digest":"' % _SIZE
        + _digest(name) + b'","details":' + _DETAILS + b',"expires_at":"' + expires
        + b'","size_vram":%d,"context_length":8192}' % _SIZE
        for name in call.frames.ollama_served) + b"]}")


def pull(call: Call):
    """POST /api/pull: the model is listed by /api/tags from now on; the answer is Ollama's
    progress (manifest, one layer in four steps, verify, write), streamed as NDJSON unless
    ``stream`` is false, ending in ``{"status":"success"}``."""
    doc = request.parse(call.body)
    name = _name(doc)
    stream = request.boolean(doc, "stream", default=True)
    request.boolean(doc, "insecure")
    if b":" not in name:
        name += b":latest"      # as Ollama names what it pulled
    frames = call.frames
    if name not in frames.ollama_served and name not in frames.ollama_pulled:
        frames.ollama_pulled.append(name)
    success = b'{"status":"success"}'
    if not stream:
        return call.whole(success)
    digest = b"sha256:" + _digest(name)
    lines = [b'{"status":"pulling manifest"}\n']
    for done in (0, _SIZE // 4, _SIZE // 2, _SIZE):
        lines.append(b'{"status":"pulling ' + digest[7:19] + b'","digest":"' + digest
                     + b'","total":%d,"completed":%d}\n' % (_SIZE, done))
    lines += [b'{"status":"verifying sha256 digest"}\n', b'{"status":"writing manifest"}\n']
    return call.streamed(StreamSpec(content_type=NDJSON, tokens=tuple(lines), total=len(lines),
                                    closing=success + b"\n"))


def embed(call: Call):
    """POST /api/embed: ``embeddings``, one vector per input (a string or strings), from
    embeddings.embedding() (deterministic, unit length)."""
    from fastmock.providers.embeddings import MAX_DIMENSIONS, MAX_NUMBERS
    doc = request.parse(call.body)
    model = request.model(doc)
    value = request.required(doc, "input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise request.wrong_type("input", "a string or an array of strings", value)
    request.boolean(doc, "truncate", default=True)
    dims = request.integer(doc, "dimensions", 1, MAX_DIMENSIONS) or EMBEDDING_DIMENSIONS
    if len(texts) * dims > MAX_NUMBERS:
        raise request.ApiError(400, f"at most {MAX_NUMBERS} numbers per request (inputs x "
                                    f"dimensions): {len(texts)} x {dims} asked", "input")
    started = time.monotonic_ns()
    tokens = call.prompt_tokens = count_tokens(*texts)
    vectors = b",".join(_vector(text, dims) for text in texts)
    took = max(time.monotonic_ns() - started, 2)
    return call.whole(b'{"model":"' + model + b'","embeddings":[' + vectors
                      + b'],"total_duration":%d,"load_duration":1,"prompt_eval_count":%d}'
                      % (took, tokens))


def embeddings(call: Call):
    """POST /api/embeddings (the older API): ``{"embedding": [...]}`` of ``prompt``."""
    doc = request.parse(call.body)
    request.model(doc)
    text = request.string(doc, "prompt", required=True)
    call.prompt_tokens = count_tokens(text)
    return call.whole(b'{"embedding":' + _vector(text, EMBEDDING_DIMENSIONS) + b"}")


def _vector(text: str, dims: int) -> bytes:
    from fastmock.providers.embeddings import embedding
    return b"[" + b",".join(b"%.9g" % x for x in embedding(request.utf8(text), dims)) + b"]"
