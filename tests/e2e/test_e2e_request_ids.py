"""X-Request-Id on every answer, over real HTTP (issue 15, point 4): the client's own when
it is safe, a fresh ``req_`` id otherwise, and a different one in each answer.

- the static seed answers (/api/data, /health), GET and HEAD, keep-alive, repeated (so
  answered from the engine's memo of whole answers) and pipelined;
- the answers the engine sends on its own: 400, 408, 413, 414, 431, 505, and the
  admission's 503 (and its /health past the limit).
"""
from __future__ import annotations

import pytest

from support.http import FRESH_ID, get, http_request, parse_response, parse_responses, read_response

OWN = "trace-42.a_b~c:1/2+3=4@x"
UNSAFE = ["a b", "<script>", "x" * 129, "a,b", '"q"']


def ids(responses) -> list[str]:
    """Each response's one X-Request-Id (fails when one has none, or two)."""
    found = []
    for r in responses:
        values = [v for k, v in r.raw_headers if k.lower() == "x-request-id"]
        assert len(values) == 1, r
        found.append(values[0])
    return found


def assert_fresh_and_distinct(values: list[str]) -> None:
    assert all(FRESH_ID.match(v) for v in values), values
    assert len(set(values)) == len(values), values


# -- the static seed answers ----------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_repeated_keep_alive_requests_get_a_fresh_id_each(api_server, path, method):
    request = get(path, method=method)
    with api_server.connect() as sock:
        reader = sock.makefile("rb")
        answers = []
        for _ in range(6):                  # the same bytes each time: memo hits after the first
            sock.sendall(request)
            answers.append(read_response(reader, head_only=method == "HEAD"))
    assert all(r.status == 200 for r in answers)
    assert_fresh_and_distinct(ids(answers))
    bodies = {r.body for r in answers}
    assert len(bodies) == 1 and (method == "GET") == (bodies != {b""})


@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_new_connections_and_http10_get_fresh_ids(api_server, path):
    requests = (get(path, "Connection: close"), get(path, version="1.0"), get(path))
    answers = [parse_response(http_request(api_server, request + get(path, "Connection: close")))[0]
               for request in requests]
    assert_fresh_and_distinct(ids(answers))


@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_pipelined_requests_get_one_fresh_id_each(api_server, path):
    batch = get(path) + get(path, method="HEAD") + get(path) + get(path, "Connection: close")
    answers, rest = [], http_request(api_server, batch)      # one write, one read
    for head_only in (False, True, False, False):
        r, rest = parse_response(rest, head_only=head_only, until_close=False)
        answers.append(r)
    assert rest == b"" and [r.status for r in answers] == [200] * 4
    assert_fresh_and_distinct(ids(answers))


@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_the_clients_own_id_is_echoed_every_time(api_server, path):
    with api_server.connect() as sock:
        reader = sock.makefile("rb")
        for method in ("GET", "HEAD", "GET", "GET"):
            sock.sendall(get(path, f"X-Request-Id: {OWN}", method=method))
            assert ids([read_response(reader, head_only=method == "HEAD")]) == [OWN]
        sock.sendall(get(path, "X-Request-Id: other-1") * 2)      # pipelined
        assert ids([read_response(reader), read_response(reader)]) == ["other-1", "other-1"]


@pytest.mark.parametrize("value", UNSAFE)
@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_an_unsafe_client_id_is_replaced_by_a_fresh_one_each_time(api_server, path, value):
    with api_server.connect() as sock:
        reader = sock.makefile("rb")
        answers = []
        for _ in range(3):
            sock.sendall(get(path, f"X-Request-Id: {value}"))
            answers.append(read_response(reader))
    assert_fresh_and_distinct(ids(answers))


# -- the answers the engine sends on its own -------------------------------------------------

ENGINE_ERRORS = [
    (400, b"GET /health HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"),
    (400, b"GET  /health HTTP/1.1\r\nHost: t\r\n\r\n"),                   # the request line
    (505, b"GET /health HTTP/2.0\r\nHost: t\r\n\r\n"),
    (413, b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n"),
    (414, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"),
    (431, b"GET /health HTTP/1.1\r\nHost: t\r\n" + b"X-Pad: " + b"p" * 20000 + b"\r\n\r\n"),
]


@pytest.mark.parametrize("status, raw", ENGINE_ERRORS, ids=[str(s) for s, _ in ENGINE_ERRORS])
def test_the_engines_own_errors_carry_a_fresh_id(api_server, status, raw):
    first, second = (parse_responses(http_request(api_server, raw)) for _ in range(2))
    assert [r.status for r in first + second] == [status, status]
    assert first[0].headers["connection"] == "close"
    assert_fresh_and_distinct(ids(first + second))


def test_an_engine_error_after_the_head_echoes_the_clients_id(api_server):
    """A head parsed whole, then refused (an HTTP/1.1 request without Host): the client's
    own id when safe, a fresh one otherwise."""
    no_host = b"GET /health HTTP/1.1\r\nX-Request-Id: %s\r\n\r\n"
    [r] = parse_responses(http_request(api_server, no_host % OWN.encode()))
    assert r.status == 400 and ids([r]) == [OWN]
    [r] = parse_responses(http_request(api_server, no_host % b"a,b"))
    assert r.status == 400 and FRESH_ID.match(ids([r])[0])


def test_a_head_not_finished_in_time_gets_a_408_with_a_fresh_id(start_server):
    server = start_server("--header-timeout", "1")
    answers = []
    for _ in range(2):
        with server.connect(timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nX-Request-Id: slow-1\r\nHost: slow")
            answers.append(read_response(sock.makefile("rb")))
    assert [r.status for r in answers] == [408, 408]
    assert_fresh_and_distinct(ids(answers))         # the head never finished: not the client's


def test_the_admissions_503_and_health_carry_a_fresh_id(start_server):
    server = start_server("--max-connections", "1")
    with server.connect(timeout=10) as held:
        held.sendall(get("/health"))
        inside = read_response(held.makefile("rb"))
        answers = []
        for request in (get("/api/data"), get("/api/data"), get("/health")):
            with server.connect(timeout=10) as extra:
                extra.sendall(request)
                answers.append(read_response(extra.makefile("rb")))
    assert [r.status for r in answers] == [503, 503, 200]
    assert_fresh_and_distinct(ids([inside, *answers]))


def test_workers_draw_their_own_prefixes(two_workers):
    """Fresh ids are unique across the workers of a server (each draws its own prefix)."""
    answers = [parse_response(http_request(two_workers, get(path, "Connection: close")))[0]
               for _ in range(20) for path in ("/health", "/api/data")]
    found = ids(answers)
    assert_fresh_and_distinct(found)
    assert len({rid[4:12] for rid in found}) == 2, found
