"""The few raw HTTP requests a test or the bench makes to see that a server is up (probes).

One HTTP/1.0 request per connection, read to the close: nothing here depends on
keep-alive or chunked framing, so it works on any server (fastmock, the Go original, nginx).
"""
import socket
import time


def exchange(port, request, timeout=5.0, head_only=False):
    """Sends ``request`` to 127.0.0.1:port; returns (status, head, body) with the head's
    lines lowercased. With ``head_only`` it stops reading at the end of the head."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(request)
        data = b""
        while not (head_only and b"\r\n\r\n" in data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise OSError(f"not an HTTP answer: {data[:60]!r}") from None
    return status, head.lower(), body


def fetch(port, path, timeout=5.0):
    """(status, body) of one GET; raises OSError on failure."""
    status, _, body = exchange(port, f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode(), timeout)
    return status, body


def healthy(port, timeout=0.5):
    """Does the server answer GET /health with 200?"""
    try:
        return fetch(port, "/health", timeout)[0] == 200
    except OSError:
        return False


def wait_healthy(port, proc, deadline, interval=0.2):
    """Polls /health until 200; AssertionError when ``proc`` exits or ``deadline`` (monotonic) passes."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        if healthy(port, timeout=2.0):
            return
        time.sleep(interval)
    raise AssertionError("server never answered /health")
