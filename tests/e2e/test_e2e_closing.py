"""A Connection: close answer larger than the kernel's buffers, read late (issue 12, bug 4).

The server closes after the answer and waits for it to flush; only a shutdown, or a
peer that reads nothing for the engine's SEND_TIMEOUT (60 s), may cut that flush.
"""
from __future__ import annotations

import json
import socket
import time

import pytest

pytestmark = pytest.mark.e2e

WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit "


def test_a_late_reader_of_a_big_closing_answer_gets_all_of_it(start_server, tmp_path):
    """With --shutdown-timeout 0, a client that paused 3 s used to get 3.8 of 5.9 MB."""
    text = tmp_path / "big.txt"
    text.write_text(WORDS * 120_000)                      # 6.6 MB: more than the socket buffers
    server = start_server("--text-file", str(text), "--shutdown-timeout", "0")
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        time.sleep(4)    # past the 2 s lingering close and the next once-a-second sweep
        data = b""
        while chunk := sock.recv(1 << 20):
            data += chunk
    head, _, answer = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert length > 6_000_000
    assert len(answer) == length, f"got {len(answer):,} of {length:,} bytes"
    assert json.loads(answer)["choices"][0]["finish_reason"] == "stop"
