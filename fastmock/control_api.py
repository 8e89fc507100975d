"""The control API for tests, under /__fastmock/: run-time fixtures, the journal, a reset.

    POST   /__fastmock/fixtures[?prepend=1]   add fixtures (aimock's format); 400 on a bad body
    GET    /__fastmock/fixtures               what a request with this X-Test-Id would see
    DELETE /__fastmock/fixtures               remove the fixtures added at run time
    GET    /__fastmock/journal                the latest requests, newest first (X-Total-Count)
    POST   /__fastmock/reset[?fixtures=1]     clear the journal and sequence counters

JSON in and out; errors in OpenAI's shape. ``X-Test-Id`` (or ``?testId=``) scopes every
call: fixtures added with it are seen only by requests that carry it, and a reset or a
DELETE with it touches only its own. State is per process: use one worker for tests.

Loaded by the first control request (with ``json`` and fastmock.fixtures).
"""
import json

from fastmock.controls import unquote
from fastmock.wire import openai_error_body

MAX_LIMIT = 100_000


class ControlError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def answer(route, app, request, query: bytes | None, test_id: str | None):
    """(status, body, extra header lines) of one control request; never raises."""
    try:
        return route.handler()(app, request, _query(query), test_id)
    except ControlError as exc:
        return exc.status, openai_error_body(exc.status, exc.message, exc.param), b""


def _query(query: bytes | None) -> dict:
    params = {}
    if query:
        for pair in query.split(b"&"):
            name, _, value = pair.partition(b"=")
            if name:
                params[unquote(name).decode("utf-8", "replace")] = \
                    unquote(value).decode("utf-8", "replace")
    return params


def _flag(params: dict, name: str) -> bool:
    value = params.get(name)
    if value is None or value.lower() in ("0", "false", "no", ""):
        return False
    if value.lower() in ("1", "true", "yes"):
        return True
    raise ControlError(400, f"'{name}' must be 1 or 0, got {value!r}", name)


def _count(params: dict, name: str, default):
    value = params.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) > MAX_LIMIT:
        raise ControlError(400, f"'{name}' must be an integer from 0 to {MAX_LIMIT}, "
                                f"got {value[:40]!r}", name)
    return int(value)


def _json(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _scope(params: dict, test_id: str | None) -> str | None:
    return params.get("testId", test_id) or None


# -- /__fastmock/fixtures -----------------------------------------------------------------

def fixtures(app, request, params: dict, test_id: str | None):
    scope = _scope(params, test_id)
    method = request.method
    if method == b"POST":
        from fastmock.fixtures.errors import FixtureError
        from fastmock.fixtures.load import parse_body
        prepend = _flag(params, "prepend")
        body = request.body or b""
        if body.lstrip().startswith(b"["):          # a bare array of fixtures is accepted too
            body = b'{"fixtures":' + body + b"}"
        try:
            added, unimplemented = parse_body(body, "request body")
        except FixtureError as exc:
            raise ControlError(400, str(exc), exc.field) from None
        pool = app.fixture_pool()
        pool.add(added, prepend=prepend, test_id=scope)
        return 200, _json({"added": len(added), "total": len(pool),
                           "unimplemented": unimplemented.lines()}), b""
    pool = app.fixtures
    if method == b"DELETE":
        removed = pool.remove_runtime(scope) if pool is not None else 0
        return 200, _json({"removed": removed}), b""
    listing = pool.listing(scope) if pool is not None else []
    return 200, _json({"fixtures": listing}), b""


# -- /__fastmock/journal ------------------------------------------------------------------

def journal(app, request, params: dict, test_id: str | None):
    log = app.request_journal()
    if log is None:
        raise ControlError(404, "the journal is off (--journal-size 0)")
    limit = _count(params, "limit", None)
    offset = _count(params, "offset", 0)
    total, entries = log.query(path=params.get("path"), model=params.get("model"),
                               test_id=_scope(params, test_id),
                               request_id=params.get("requestId"), limit=limit, offset=offset)
    return 200, _json(entries), b"X-Total-Count: %d\r\n" % total


# -- /__fastmock/reset --------------------------------------------------------------------

def reset(app, request, params: dict, test_id: str | None):
    scope = _scope(params, test_id)
    with_fixtures = _flag(params, "fixtures")
    log = app.journal
    if log is not None:
        log.clear(scope)
    removed = 0
    pool = app.fixtures
    if pool is not None:
        pool.reset_counters(scope)
        if with_fixtures:
            removed = pool.remove_runtime(scope)
    return 200, _json({"reset": True, "removedFixtures": removed}), b""
