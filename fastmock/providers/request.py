"""Request bodies of the provider APIs: parse the JSON once, read typed fields, fail clearly.

Every problem is one ``ApiError(status, message, param)``; the API module that
called answers it in its own error shape. Messages name the field, in the
dotted/indexed form the providers use (``messages[0].content``).

The parser is the standard library's ``json``: measured against orjson and
msgspec (see the README's "Provider APIs" section), it costs ~0.1 MB of RSS
where they cost 0.7 and 1.3 MB, and the 2-5 us it loses per request body is
noise next to the rest of a request.
"""
import json

from fastmock.controls import MAX_TOKENS
from fastmock.frames import json_string

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "an array",
               dict: "an object", float: "a number"}


class ApiError(Exception):
    """A request the API refuses: ``status``, a message for people, the field at fault."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def parse(body: bytes) -> dict:
    """The request's JSON object, or ApiError(400)."""
    if not body:
        raise ApiError(400, "the request body is empty; expected a JSON object")
    try:
        doc = json.loads(body)
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8 JSON") from None
    except ValueError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {_kind(doc)}")
    return doc


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def wrong_type(param: str, expected: str, value) -> ApiError:
    return ApiError(400, f"'{param}' must be {expected}, got {_kind(value)}", param)


def missing(param: str) -> ApiError:
    return ApiError(400, f"missing required parameter: '{param}'", param)


def required(doc: dict, name: str):
    """``doc[name]``, of any type (the caller checks it), or a 400 naming it."""
    value = doc.get(name)
    if value is None:
        raise missing(name)
    return value


# -- typed fields -------------------------------------------------------------------------

def _typed(doc: dict, name: str, kind: type, what: str, required: bool, param: str | None):
    """``doc[name]`` when it is a ``kind``; None when absent (or null) and not required."""
    value = doc.get(name)
    if value is None:
        if required:
            raise missing(param or name)
        return None
    if not isinstance(value, kind):
        raise wrong_type(param or name, what, value)
    return value


def string(doc: dict, name: str, required: bool = False, param: str | None = None):
    """``doc[name]`` as a str; None when absent (or null) and not required."""
    return _typed(doc, name, str, "a string", required, param)


def boolean(doc: dict, name: str, default: bool = False, param: str | None = None) -> bool:
    value = doc.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise wrong_type(param or name, "a boolean", value)
    return value


def integer(doc: dict, name: str, low: int, high: int, required: bool = False,
            param: str | None = None):
    """``doc[name]`` as an int within [low, high]; None when absent and not required."""
    value = doc.get(name)
    param = param or name
    if value is None:
        if required:
            raise missing(param)
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(param, "an integer", value)
    if not low <= value <= high:
        raise ApiError(400, f"'{param}' must be from {low} to {high}, got {value}", param)
    return value


def token_limit(doc: dict, name: str, low: int = 1, required: bool = False,
                param: str | None = None):
    """``doc[name]`` as a token limit, from ``low`` to MAX_TOKENS; None when absent."""
    return integer(doc, name, low, MAX_TOKENS, required, param)


def array(doc: dict, name: str, required: bool = False, param: str | None = None):
    return _typed(doc, name, list, "an array", required, param)


def obj(doc: dict, name: str, param: str | None = None):
    return _typed(doc, name, dict, "an object", False, param)


def model(doc: dict) -> bytes:
    """The required ``model``, JSON-escaped, ready to splice into every answer."""
    name = string(doc, "model", required=True)
    if not name:
        raise ApiError(400, "'model' must not be empty", "model")
    return escape(name)


# -- text in messages ---------------------------------------------------------------------

def blocks_text(blocks, param: str, noun: str) -> str:
    """The text of an array of objects each with an optional ``text`` string (Gemini's
    parts, Bedrock's content blocks), joined; ``noun`` names one in a 400."""
    if not isinstance(blocks, list):
        raise wrong_type(param, f"an array of {noun}s", blocks)
    texts = []
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise wrong_type(f"{param}[{j}]", f"a {noun}", block)
        text = block.get("text")
        if text is not None and not isinstance(text, str):
            raise wrong_type(f"{param}[{j}].text", "a string", text)
        texts.append(text or "")
    return "".join(texts)


def content_text(content, param: str, part_types: tuple = ("text",)) -> str:
    """The text of a message's ``content``: a string, or an array of typed parts.

    Parts of other types (images, tool results, ...) add no text but are allowed.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise wrong_type(param, "a string or an array of content parts", content)
    texts = []
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise wrong_type(f"{param}[{i}]", "an object", part)
        if part.get("type") in part_types:
            text = part.get("text")
            if not isinstance(text, str):
                raise wrong_type(f"{param}[{i}].text", "a string", text)
            texts.append(text)
    return "".join(texts)


def messages(doc: dict, name: str = "messages", required: bool = True, roles=None,
             part_types: tuple = ("text",)) -> list[tuple[str, str]]:
    """``doc[name]`` as [(role, text)], each message checked for a role and a content."""
    items = array(doc, name, required=required)
    if items is None:
        return []
    if required and not items:
        raise ApiError(400, f"'{name}' must contain at least one message", name)
    out = []
    for i, item in enumerate(items):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise wrong_type(where, "an object", item)
        role = string(item, "role", required=True, param=where + ".role")
        if roles is not None and role not in roles:
            raise ApiError(400, f"'{where}.role' must be one of {', '.join(roles)}, got {role!r}",
                           where + ".role")
        out.append((role, content_text(item.get("content"), where + ".content", part_types)))
    return out


def last_text(items: list[tuple[str, str]], role: str = "user") -> str:
    """The text of the last message with ``role`` ("" when there is none)."""
    for who, text in reversed(items):
        if who == role:
            return text
    return ""


# -- reflecting client strings safely -----------------------------------------------------

def escape(text: str) -> bytes:
    """A client string as the body of a JSON string literal: always valid JSON, UTF-8.

    A lone surrogate (valid in JSON, not in UTF-8) comes back as its ``\\uXXXX`` escape.
    """
    try:
        return json_string(text)
    except UnicodeEncodeError:
        return json.dumps(text)[1:-1].encode()


def utf8(text: str) -> bytes:
    """A client string as bytes, lone surrogates included (for hashing, never for output)."""
    return text.encode("utf-8", "surrogatepass")
