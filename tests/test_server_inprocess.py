"""The server's own process pieces on a real uvloop loop, in this process."""
from __future__ import annotations

import asyncio
import socket

import uvloop

from fastmock.config import Config
from fastmock.frames import Frames
from fastmock.protocol import HttpProtocol
from fastmock.server import App, bind_socket


def test_every_connection_has_tcp_nodelay():
    """Small frames must never wait for Nagle's algorithm and a delayed ACK."""
    loop = uvloop.new_event_loop()
    errors = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        app = App(Config(), loop, Frames())
        sock = bind_socket("127.0.0.1", 0, 16, reuse_port=False)
        server = loop.run_until_complete(loop.create_server(lambda: HttpProtocol(app), sock=sock))
        port = sock.getsockname()[1]

        async def exchange():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            assert (await reader.readline()) == b"HTTP/1.1 200 OK\r\n"
            (conn,) = app.connections
            server_side = conn.transport.get_extra_info("socket")
            nodelay = server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            writer.close()
            return nodelay

        assert loop.run_until_complete(exchange()) != 0
        server.close()
        loop.run_until_complete(server.wait_closed())
    finally:
        app.pacer.close()
        loop.close()
    assert errors == []
