"""The server's own process pieces on a real uvloop loop, in this process."""
from __future__ import annotations

import asyncio
import socket

import pytest

from fastmock.acceptor import ACCEPT_BATCH

HEALTH = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"


def test_every_connection_has_tcp_nodelay(served):
    """Small frames must never wait for Nagle's algorithm and a delayed ACK."""
    loop, app, _, port, _ = served

    async def exchange():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEALTH)
        assert (await reader.readline()) == b"HTTP/1.1 200 OK\r\n"
        (conn,) = app.connections
        server_side = conn.transport.get_extra_info("socket")
        nodelay = server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return nodelay

    assert loop.run_until_complete(exchange()) != 0


def test_one_readiness_accepts_a_whole_batch_of_waiting_connections(served):
    """libuv takes one connection per loop iteration; the acceptor takes up to ACCEPT_BATCH."""
    loop, app, acceptor, port, made = served
    loop.remove_reader(acceptor.sock.fileno())   # readiness is driven by hand below
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(ACCEPT_BATCH + 20)]
    try:
        acceptor._on_readable()
        loop.run_until_complete(asyncio.sleep(0.05))
        assert len(made) == ACCEPT_BATCH == app.open_count
        acceptor._on_readable()      # the rest, then EAGAIN
        loop.run_until_complete(asyncio.sleep(0.05))
        assert len(made) == len(clients) == app.open_count
        assert len(set(made)) == len(made)
        for client in clients:
            client.sendall(HEALTH)
        loop.run_until_complete(asyncio.sleep(0.1))
        for client in clients:       # each one answered on its own connection
            client.settimeout(5)
            assert client.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        for client in clients:
            client.close()
        loop.add_reader(acceptor.sock.fileno(), acceptor._on_readable)


def test_the_accepted_fd_is_the_connections_own(served):
    """The protocol is told the fd at accept, so it never asks uvloop for a socket object."""
    loop, app, _, port, made = served

    async def exchange():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEALTH)
        await reader.readline()
        peer = socket.socket(fileno=socket.dup(made[0]))
        try:
            return peer.getpeername() == writer.get_extra_info("sockname")
        finally:
            peer.close()
            writer.close()

    assert loop.run_until_complete(exchange())


def test_close_stops_accepting_and_closes_the_listening_socket(served):
    loop, _, acceptor, port, _ = served
    acceptor.close()
    acceptor.close()   # twice is harmless
    assert acceptor.sock.fileno() == -1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
