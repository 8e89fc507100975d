#!/usr/bin/env python3
"""The memory floor under fastmock: uvloop + httptools with nothing of fastmock's.

It binds its own listening socket as fastmock does (no libuv threadpool), parses
with httptools and answers every request with a 200 and a two-byte body, so its
idle VmRSS is what CPython, uvloop (with the asyncio and ssl it imports) and
httptools cost before any server code. Honours PORT/HOST like the other servers.

    python3 bench/run.py --phases startup --baseline 'python3 bench/baselines/uvloop-floor.py'
"""
import asyncio
import os
import socket

import httptools
import uvloop

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Floor(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self):
        self.transport.write(ANSWER)


async def serve(host, port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    await asyncio.get_running_loop().create_server(Floor, sock=sock)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(serve(os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))))
