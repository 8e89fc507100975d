"""Structured outputs no fixture answers: a JSON value valid against the request's schema.

Each API names its schema in its own field; the readers here find it and return the
text to send (``fastmock.fixtures.schema`` builds it, cached per schema), or None
when the request asks for free text:

- OpenAI chat ``response_format``: ``{"type": "json_schema", "json_schema": {"schema"}}``
  or ``{"type": "json_object"}``;
- the Responses API's ``text.format``: ``{"type": "json_schema", "schema"}`` or
  ``{"type": "json_object"}``;
- Ollama's ``format``: a schema, or ``"json"``;
- a forced tool call (``forced_tool``): OpenAI's ``tool_choice`` naming a function or
  ``"required"``, Anthropic's ``{"type": "tool", "name"}`` or ``{"type": "any"}``;
  the tool's parameters schema gives the call's arguments.

A schema fastmock cannot build a value for is the client's error: a 400 naming the field.
"""
import json

from fastmock.providers.request import ApiError, wrong_type

JSON_OBJECT_TEXT = None     # the text of schema.JSON_OBJECT_EXAMPLE, made on first use


def _object_text() -> str:
    global JSON_OBJECT_TEXT
    if JSON_OBJECT_TEXT is None:
        from fastmock.fixtures.schema import JSON_OBJECT_EXAMPLE
        JSON_OBJECT_TEXT = json.dumps(JSON_OBJECT_EXAMPLE)
    return JSON_OBJECT_TEXT


def example_for(schema, param: str) -> str:
    """The JSON text of a value valid against ``schema`` (an object), or ApiError(400)."""
    from fastmock.fixtures.schema import SchemaError, example_text_for
    if isinstance(schema, bool):
        schema = {} if schema else schema
    if not isinstance(schema, dict):
        raise wrong_type(param, "a JSON schema object", schema)
    try:
        return example_text_for(json.dumps(schema, sort_keys=True))
    except SchemaError as exc:
        raise ApiError(400, f"'{param}': {exc}", param) from None


def _format(fmt, param: str, schema_of) -> str | None:
    """``json_schema`` / ``json_object`` / ``text`` formats, the schema found by ``schema_of``."""
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise wrong_type(param, "an object", fmt)
    kind = fmt.get("type")
    if kind == "json_object":
        return _object_text()
    if kind == "json_schema":
        schema, where = schema_of(fmt)
        return example_for(schema if schema is not None else {}, where)
    if kind in (None, "text"):
        return None
    raise ApiError(400, f"'{param}.type' must be text, json_object or json_schema, got {kind!r}",
                   param + ".type")


def chat_content(doc: dict) -> str | None:
    """OpenAI chat: the text ``response_format`` asks for, or None."""
    def schema_of(fmt):
        inner = fmt.get("json_schema")
        if not isinstance(inner, dict):
            raise wrong_type("response_format.json_schema", "an object", inner)
        return inner.get("schema"), "response_format.json_schema.schema"
    return _format(doc.get("response_format"), "response_format", schema_of)


def responses_content(doc: dict) -> str | None:
    """OpenAI Responses: the text ``text.format`` asks for, or None."""
    text = doc.get("text")
    if text is None:
        return None
    if not isinstance(text, dict):
        raise wrong_type("text", "an object", text)
    return _format(text.get("format"), "text.format",
                   lambda fmt: (fmt.get("schema"), "text.format.schema"))


def ollama_content(doc: dict) -> str | None:
    """Ollama: the text ``format`` asks for (a schema, or ``"json"``), or None."""
    fmt = doc.get("format")
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return _object_text()
    if isinstance(fmt, dict):
        return example_for(fmt, "format")
    raise wrong_type("format", '"json" or a JSON schema object', fmt)


# -- forced tool calls --------------------------------------------------------------------

class ForcedCall:
    """The tool a request forces, and the JSON text of its arguments."""

    __slots__ = ("name", "arguments")

    def __init__(self, name: str, arguments: str) -> None:
        self.name = name
        self.arguments = arguments

    def raw(self) -> bytes:
        """The arguments as a JSON object's bytes, for APIs that embed it (Anthropic's input)."""
        try:
            return self.arguments.encode()
        except UnicodeEncodeError:          # a lone surrogate: valid JSON, not UTF-8
            return json.dumps(json.loads(self.arguments)).encode()


def _tools(doc: dict) -> dict:
    """name -> parameters schema of the request's function tools (OpenAI chat's
    ``function``, the Responses API's and Anthropic's flat tools)."""
    tools = doc.get("tools")
    if not isinstance(tools, list):
        return {}
    out = {}
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        if isinstance(function, dict):                      # OpenAI chat
            name, schema = function.get("name"), function.get("parameters")
        else:                                               # Anthropic, Responses
            name = tool.get("name")
            schema = tool.get("input_schema", tool.get("parameters"))
        if isinstance(name, str) and name not in out:
            out[name] = schema if schema is not None else {"type": "object"}
    return out


# tool_choice values that leave the choice to the model (OpenAI's strings, and the
# types of Anthropic's and the Responses API's objects that force no function).
_FREE = ("auto", "none")
_ANY = ("required", "any")
_NAMED = ("function", "tool")


def forced_tool(doc: dict) -> ForcedCall | None:
    """The tool call ``tool_choice`` forces, with arguments valid against its parameters.

    None when it forces none (absent, ``auto``, ``none``, a built-in tool's type);
    a 400 as the provider answers one when it names no tool, or a tool not in ``tools``."""
    choice = doc.get("tool_choice")
    if choice is None or choice in _FREE:
        return None
    if isinstance(choice, str):
        if choice not in _ANY:
            raise ApiError(400, f"'tool_choice' must be auto, none, required or an object, "
                                f"got {choice!r}", "tool_choice")
        kind, name = "any", None
    elif isinstance(choice, dict):
        kind = choice.get("type")
        if kind in _FREE or (kind not in _ANY and kind not in _NAMED):
            return None                                     # auto, none, built-in tools
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        if kind in _NAMED and not isinstance(name, str):
            raise ApiError(400, "'tool_choice' must name the function it forces",
                           "tool_choice")
    else:
        raise wrong_type("tool_choice", "a string or an object", choice)
    tools = _tools(doc)
    if not tools:
        raise ApiError(400, "'tool_choice' is only allowed when 'tools' are specified",
                       "tool_choice")
    if name is None:
        name = next(iter(tools))                            # required / any: the first tool
    elif name not in tools:
        raise ApiError(400, f"'tool_choice' names {name!r}, which is not among 'tools'",
                       "tool_choice")
    return ForcedCall(name, example_for(tools[name], "tools"))
