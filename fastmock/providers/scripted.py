"""Scripted answers: the fixture that answers a provider request, and the request's facts.

Loaded only by a server started with fixtures (``Scripts.load`` at start, before any
fork); the API modules reach it through ``call.script`` (None without fixtures), so
none of them imports it and an idle server never loads ``fastmock.fixtures``.

Each API handler parses and checks its body as always, then asks its method here
(``chat``, ``completions``, ``responses``, ``messages``, ``ollama_chat``,
``ollama_generate``, ``embeddings``): the request's ``RequestFacts`` are read once
from the parsed body, the pool finds the first fixture that matches, and the
answer is encoded by ``providers.scripted_wire`` in the API's own wire format. No
match: None (the API answers from its corpus, as without fixtures), or with
``--strict`` a 404 in the API's own error shape.
"""
import json
from _random import Random

from fastmock.fixtures.load import load_paths
from fastmock.fixtures.match import CONTEXT_HEADERS, FixturePool, RequestFacts
from fastmock.fixtures.conditions import EMBEDDING
from fastmock.providers import scripted_wire as wire
from fastmock.providers.request import ApiError
from fastmock.request_ids import test_id

_TEXT_PARTS = ("text", "input_text", "output_text")


class Scripts:
    """The fixtures one server answers with, and how (strict, reasoning field, seed)."""

    __slots__ = ("pool", "strict", "reasoning_field", "rng", "notices")

    def __init__(self, pool: FixturePool, strict: bool = False,
                 reasoning_field: str = "reasoning_content", seed=None, notices=()) -> None:
        self.pool = pool
        self.strict = strict
        self.reasoning_field = reasoning_field.encode()
        self.rng = Random(seed) if seed is not None else Random()
        self.notices = list(notices)

    @classmethod
    def load(cls, config) -> "Scripts":
        """launch: the fixtures of ``config.fixtures``; FixtureError (one line) at a bad file."""
        loaded = load_paths(config.fixtures)
        return cls(FixturePool(loaded.fixtures), config.strict, config.reasoning_field,
                   config.seed, loaded.notices())

    @classmethod
    def empty(cls, config) -> "Scripts":
        """The control API's first POST on a server started without fixtures."""
        return cls(FixturePool(), config.strict, config.reasoning_field, config.seed)

    def find(self, call, facts: RequestFacts):
        """The fixture for ``facts``; None (the corpus answers), or a 404 with --strict.

        The request's X-Test-Id scopes the run-time fixtures it may see, and its context
        header is what ``context`` matches; the journal learns which fixture answered."""
        headers = call.headers
        if headers:
            facts.test_id = test_id(headers)
            for name in CONTEXT_HEADERS:
                value = headers.get(name)
                if value is not None:
                    facts.context = value.decode("utf-8", "replace")
                    break
        fixture = self.pool.find(facts)
        if fixture is None and self.strict:
            raise ApiError(404, no_match_message(facts))
        call.fixture = fixture.label if fixture is not None else None
        return fixture

    # -- one method per API: its facts, then its encoder (None: no fixture matched) ----------

    def chat(self, call, doc: dict, model: bytes, prompt: int, stream: bool, include_usage: bool):
        """openai.chat: POST /v1/chat/completions."""
        facts = RequestFacts.from_messages(
            _chat_messages(doc.get("messages")), model=_name(model),
            tool_names=_tool_names(doc.get("tools")),
            response_format=_format_type(doc.get("response_format")))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        return wire.openai_chat(call, fixture, self, model, prompt, stream, include_usage)

    def completions(self, call, texts: list, model: bytes, prompt: int, stream: bool,
                    include_usage: bool):
        """openai.completions: POST /v1/completions (text only)."""
        facts = RequestFacts.from_messages([("user", texts[-1] if texts else None, None)],
                                           model=_name(model))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        return wire.openai_completions(call, fixture, self, model, prompt, stream, include_usage)

    def responses(self, call, doc: dict, model: bytes, prompt: int, stream: bool, limit):
        """openai.responses_api: POST /v1/responses."""
        messages = []
        instructions = doc.get("instructions")
        if isinstance(instructions, str):
            messages.append(("system", instructions, None))
        messages += _responses_input(doc.get("input"))
        text = doc.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        facts = RequestFacts.from_messages(messages, model=_name(model),
                                           tool_names=_tool_names(doc.get("tools")),
                                           response_format=_format_type(fmt))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        return wire.openai_responses(call, fixture, self, model, prompt, stream, limit)

    def messages(self, call, doc: dict, model: bytes, prompt: int, stream: bool):
        """anthropic.messages: POST /v1/messages."""
        facts = RequestFacts.from_messages(_anthropic_messages(doc), model=_name(model),
                                           tool_names=_tool_names(doc.get("tools")))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        return wire.anthropic_messages(call, fixture, self, model, prompt, stream)

    def ollama_chat(self, call, doc: dict, model: bytes, prompt: int, stream: bool):
        """ollama.chat: POST /api/chat."""
        facts = RequestFacts.from_messages(_chat_messages(doc.get("messages")),
                                           model=_name(model),
                                           tool_names=_tool_names(doc.get("tools")),
                                           response_format=_ollama_format(doc.get("format")))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        return wire.ollama(call, fixture, self, model, prompt, stream, chat=True)

    def ollama_generate(self, call, doc: dict, model: bytes, prompt: int, stream: bool):
        """ollama.generate: POST /api/generate (no tool calls: the API has none)."""
        messages = []
        if isinstance(doc.get("system"), str):
            messages.append(("system", doc["system"], None))
        messages.append(("user", doc.get("prompt"), None))
        facts = RequestFacts.from_messages(messages, model=_name(model),
                                           response_format=_ollama_format(doc.get("format")))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        return wire.ollama(call, fixture, self, model, prompt, stream, chat=False)

    def gemini(self, call, doc: dict, model: bytes, prompt: int, stream: bool, sse: bool):
        """gemini.generate, stream_generate: POST .../models/{model}:generateContent."""
        config = doc.get("generationConfig") or doc.get("generation_config")
        facts = RequestFacts.from_messages(_gemini_messages(doc), model=_name(model),
                                           tool_names=_gemini_tool_names(doc.get("tools")),
                                           response_format=_gemini_format(config))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        from fastmock.providers import scripted_cloud
        return scripted_cloud.gemini(call, fixture, self, model, prompt, stream, sse)

    def cohere(self, call, doc: dict, model: bytes, prompt: int, stream: bool):
        """cohere.chat: POST /v2/chat."""
        fmt = doc.get("response_format")
        kind = None
        if isinstance(fmt, dict):
            kind = "json_schema" if fmt.get("json_schema") is not None else fmt.get("type")
        facts = RequestFacts.from_messages(_cohere_messages(doc.get("messages")),
                                           model=_name(model),
                                           tool_names=_tool_names(doc.get("tools")),
                                           response_format=kind)
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        from fastmock.providers import scripted_cloud
        return scripted_cloud.cohere(call, fixture, self, model, prompt, stream)

    def converse(self, call, doc: dict, model: bytes, prompt: int, stream: bool):
        """bedrock.converse, converse_stream: POST /model/{modelId}/converse(-stream)."""
        config = doc.get("toolConfig")
        tools = config.get("tools") if isinstance(config, dict) else None
        specs = [t.get("toolSpec") for t in tools or () if isinstance(t, dict)]
        facts = RequestFacts.from_messages(_converse_messages(doc), model=_name(model),
                                           tool_names=_tool_names(specs))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        from fastmock.providers import scripted_cloud
        return scripted_cloud.converse(call, fixture, self, model, prompt, stream)

    def embeddings(self, call, value, model: bytes, encoding: str, tokens: int):
        """embeddings.embeddings: POST /v1/embeddings."""
        texts = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
        facts = RequestFacts(EMBEDDING, _name(model), input_text=" ".join(texts))
        fixture = self.find(call, facts)
        if fixture is None:
            return None
        count = len(value) if isinstance(value, list) and not all(
            isinstance(v, int) for v in value) else 1
        return wire.embeddings(call, fixture, model, encoding, count, tokens)


def no_match_message(facts: RequestFacts) -> str:
    """--strict: what the request said, so the missing fixture is easy to write."""
    user = facts.user_text if facts.user_text is not None else facts.input_text
    tools = ", ".join(sorted(facts.tool_names)) or "none"
    return (f"no fixture matches: last user message {user!r}, model {facts.model!r}, "
            f"tools: {tools}")


# -- the facts of each API's body (read once; the handler has already checked it) -----------

def _name(model: bytes) -> str:
    return model.decode("utf-8", "replace")


def _text(content):
    """A message's text: a string, or its text parts joined; None when it has no text part."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content
                 if isinstance(p, dict) and p.get("type") in _TEXT_PARTS
                 and isinstance(p.get("text"), str)]
        return "".join(texts) if texts else None
    return None


def _chat_messages(items) -> list:
    """OpenAI chat and Ollama messages as (role, text, tool_call_id); developer is system."""
    out = []
    for item in items or ():
        if isinstance(item, dict):
            role = item.get("role")
            out.append(("system" if role == "developer" else role, _text(item.get("content")),
                        item.get("tool_call_id")))
    return out


def _cohere_messages(items) -> list:
    """Cohere v2 messages: as OpenAI's, a tool message's ``document`` items its text."""
    out = _chat_messages(items)
    for i, (role, text, call_id) in enumerate(out):
        content = items[i].get("content")
        if role == "tool" and text is None and isinstance(content, list):
            data = [d.get("data") for d in (p.get("document") for p in content
                                            if isinstance(p, dict)) if isinstance(d, dict)]
            texts = [v if isinstance(v, str) else _result_text(v) for v in data if v is not None]
            if texts:
                out[i] = (role, "".join(texts), call_id)
    return out


def _anthropic_messages(doc: dict) -> list:
    """The ``system`` parameter, then the messages; a tool_result block is a tool message."""
    out = []
    system = doc.get("system")
    if system is not None:
        out.append(("system", _text(system), None))
    for item in doc.get("messages") or ():
        role, content = item.get("role"), item.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    out.append(("tool", _text(block.get("content")), block.get("tool_use_id")))
            text = _text([b for b in content
                          if not (isinstance(b, dict) and b.get("type") == "tool_result")])
            if text is not None or not any(m[0] == "tool" for m in out[-1:]):
                out.append((role, text, None))
        else:
            out.append((role, _text(content), None))
    return out


def _responses_input(value) -> list:
    """Responses ``input``: messages; function_call items (one assistant turn per run of
    them); function_call_output items are tool messages."""
    if isinstance(value, str):
        return [("user", value, None)]
    out = []
    for item in value or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call_output":
            output = item.get("output")
            out.append(("tool", output if isinstance(output, str) else _text(output),
                        item.get("call_id")))
        elif kind == "function_call":
            if not out or out[-1] != ("assistant", None, None):
                out.append(("assistant", None, None))
        elif "role" in item:
            role = item["role"]
            out.append(("system" if role == "developer" else role, _text(item.get("content")),
                        None))
    return out


def _tool_names(tools) -> tuple:
    """The names of the request's tools (OpenAI chat's ``function.name``, or ``name``)."""
    names = []
    for tool in tools or ():
        if isinstance(tool, dict):
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
    return tuple(names)


def _format_type(fmt):
    return fmt.get("type") if isinstance(fmt, dict) else None


def _ollama_format(fmt):
    if fmt == "json":
        return "json_object"
    return "json_schema" if isinstance(fmt, dict) else None


# -- Gemini and Bedrock: parts (content blocks) that hold text, calls or results -------------

def _parts_text(parts):
    """The ``text`` of Gemini parts or Bedrock content blocks, joined; a thought part (the
    model's reasoning sent back) is not text; None when no part has text."""
    if not isinstance(parts, list):
        return None
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
             and not p.get("thought")]
    return "".join(texts) if texts else None


def _result_text(value):
    """A tool result's text: a string as it is, anything else as its JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _gemini_messages(doc: dict) -> list:
    """``systemInstruction``, then ``contents``: "model" is the assistant; a
    ``functionResponse`` part is a tool message (its id, else its function's name)."""
    out = []
    system = doc.get("systemInstruction") or doc.get("system_instruction")
    if isinstance(system, str):
        out.append(("system", system, None))
    elif isinstance(system, dict):
        out.append(("system", _parts_text(system.get("parts")), None))
    contents = doc.get("contents")
    for content in [contents] if isinstance(contents, dict) else contents or ():
        if not isinstance(content, dict):
            continue
        role = "assistant" if content.get("role") == "model" else "user"
        parts = content.get("parts")
        results = [p.get("functionResponse") or p.get("function_response")
                   for p in parts or () if isinstance(p, dict)]
        for result in results:
            if isinstance(result, dict):
                out.append(("tool", _result_text(result.get("response")),
                            result.get("id") or result.get("name")))
        text = _parts_text(parts)
        if text is not None or not any(results):
            out.append((role, text, None))
    return out


def _gemini_tool_names(tools) -> tuple:
    names = []
    for tool in tools or ():
        if isinstance(tool, dict):
            declared = tool.get("functionDeclarations") or tool.get("function_declarations")
            names += _tool_names(declared if isinstance(declared, list) else ())
    return tuple(names)


def _gemini_format(config):
    if not isinstance(config, dict):
        return None
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    if mime != "application/json":
        return None
    schema = (config.get("responseSchema") or config.get("response_schema")
              or config.get("responseJsonSchema") or config.get("response_json_schema"))
    return "json_schema" if schema is not None else "json_object"


def _converse_messages(doc: dict) -> list:
    """Bedrock Converse's ``system`` blocks, then the messages; a ``toolResult`` block is a
    tool message."""
    out = []
    system = doc.get("system")
    if isinstance(system, list):
        out.append(("system", _parts_text(system), None))
    for message in doc.get("messages") or ():
        if not isinstance(message, dict):
            continue
        blocks = message.get("content")
        results = [b.get("toolResult") for b in blocks or () if isinstance(b, dict)]
        for result in results:
            if isinstance(result, dict):
                content = result.get("content")
                text = _parts_text(content)
                if text is None and isinstance(content, list):   # [{"json": ...}] blocks
                    values = [b["json"] for b in content if isinstance(b, dict) and "json" in b]
                    text = _result_text(values[0] if len(values) == 1 else values) \
                        if values else None
                out.append(("tool", text, result.get("toolUseId")))
        text = _parts_text(blocks)
        if text is not None or not any(results):
            out.append((message.get("role"), text, None))
    return out
