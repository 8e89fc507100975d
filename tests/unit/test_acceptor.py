"""The acceptor's hand-over of each accepted socket to the loop (issue 12, bug 3).

A connection whose hand-over fails before a transport took its descriptor is closed,
not leaked; a descriptor uvloop did take is left to it; and every hand-over task is
held until it is done (the loop keeps only weak references to tasks).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import weakref

import pytest
import uvloop

from fastmock.acceptor import Acceptor


def connect(listener) -> socket.socket:
    client = socket.create_connection(listener.getsockname(), timeout=5)
    client.settimeout(5)
    return client


def run_until(loop, predicate, seconds: float = 5.0) -> bool:
    deadline = loop.time() + seconds
    while not predicate() and loop.time() < deadline:
        loop.run_until_complete(asyncio.sleep(0.01))
    return predicate()


def test_a_connection_whose_protocol_cannot_be_made_is_closed_not_leaked(listener, caplog):
    """uvloop calls the protocol factory before it takes the descriptor: that one is ours to close."""
    loop = uvloop.new_event_loop()
    made = []

    def factory(fd):
        made.append(fd)
        raise MemoryError("no room for a protocol")

    acceptor = Acceptor(loop, listener, factory)
    try:
        with caplog.at_level(logging.ERROR, "fastmock"), connect(listener) as client:
            assert run_until(loop, lambda: made)
            loop.run_until_complete(asyncio.sleep(0.05))
            with pytest.raises(OSError):
                os.fstat(made[0])                # the accepted descriptor is closed...
            assert client.recv(1) == b""         # ...so the client sees the end at once
        assert caplog.text.count("could not serve an accepted connection") == 1
    finally:
        acceptor.close()
        loop.close()


def test_a_descriptor_the_transport_took_is_left_to_it(listener):
    """After uvloop asked for the descriptor, its transport closes it: closing it too could close
    a later connection that got the same number."""
    loop = asyncio.new_event_loop()
    taken = []

    async def connect_accepted_socket(_factory, sock):
        taken.append(sock.fileno())
        raise RuntimeError("closed Transport handle and unset waiter")

    loop.connect_accepted_socket = connect_accepted_socket
    acceptor = Acceptor(loop, listener, lambda fd: None)
    try:
        with connect(listener):
            assert run_until(loop, lambda: taken)
            loop.run_until_complete(asyncio.sleep(0.05))
            os.fstat(taken[0])                   # still open: not the acceptor's to close
            os.close(taken[0])
    finally:
        acceptor.close()
        loop.close()


def test_hand_over_tasks_are_held_until_done(listener):
    loop = asyncio.new_event_loop()
    waiting = []

    async def connect_accepted_socket(_factory, sock):
        os.close(sock.fileno())
        stalled = loop.create_future()           # referenced by nothing but this frame
        waiting.append(weakref.ref(stalled))
        await stalled

    loop.connect_accepted_socket = connect_accepted_socket
    acceptor = Acceptor(loop, listener, lambda fd: None)
    try:
        with connect(listener):
            assert run_until(loop, lambda: waiting)
            gc.collect()
            assert waiting[0]() is not None, "the pending hand-over was garbage-collected"
            assert len(acceptor._handing) == 1
            task = next(iter(acceptor._handing))
            waiting[0]().set_result(None)
            assert run_until(loop, task.done)
            loop.run_until_complete(asyncio.sleep(0))
            assert not acceptor._handing
    finally:
        acceptor.close()
        loop.close()
