"""The receive low-water mark (tcpbridge.net.low_water): the mark follows the large field being received
and falls back to 1, and it never makes the engine miss the end of a field, a peer that closes in the
middle of one, or a message that follows: real sockets on 127.0.0.1, the real engine."""
from __future__ import annotations

import socket
import ssl
from typing import Iterator, Tuple

import numpy as np
import pytest

from helpers import EventLog, wait_until
from tcpbridge import GRABBER
from tcpbridge.net.low_water import LOW_WATER_MAX, RECEIVE_BUFFER_SHARE, ReceiveLowWater
from tcpbridge.server import BridgeServer, ClientLost, MessageReceived
from tcpbridge.wire import ClientType, Done, Encoder

pytestmark = pytest.mark.skipif(not hasattr(socket, 'SO_RCVLOWAT'), reason='no SO_RCVLOWAT here')


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    listener = socket.create_server(('127.0.0.1', 0))
    a = socket.create_connection(listener.getsockname())
    b, _ = listener.accept()
    listener.close()
    yield a, b
    a.close(), b.close()


def mark(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT)


def test_the_mark_follows_the_missing_bytes_within_its_caps_and_falls_back_to_one(pair) -> None:
    _, receiver = pair
    low_water = ReceiveLowWater(receiver)
    cap = min(LOW_WATER_MAX, receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // RECEIVE_BUFFER_SHARE)
    low_water.follow(8 << 20)
    assert mark(receiver) == cap
    low_water.follow(1000)
    assert mark(receiver) == 1000
    low_water.follow(0)
    assert mark(receiver) == 1
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # a small buffer lowers the cap
    low_water.follow(8 << 20)
    assert mark(receiver) == receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // RECEIVE_BUFFER_SHARE
    assert low_water.enabled


def test_a_tls_socket_is_left_alone_and_a_closed_one_turns_it_off_quietly(pair) -> None:
    sender, receiver = pair
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    wrapped = context.wrap_socket(socket.socket(), do_handshake_on_connect=False, server_hostname='localhost')
    assert not ReceiveLowWater(wrapped).enabled
    wrapped.close()
    low_water = ReceiveLowWater(receiver)
    receiver.close()
    low_water.follow(8 << 20)  # EBADF: no exception, no mark from then on
    assert not low_water.enabled


@pytest.fixture
def engine() -> Iterator[Tuple[BridgeServer, EventLog]]:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, message_timeout=60.0)  # a stall is not what ends these
    yield server, log
    server.close()


def frame_bytes(shape: tuple = (512, 1024)) -> Tuple[np.ndarray, bytes]:
    frame = np.arange(np.prod(shape), dtype=np.uint32).reshape(shape)  # 2 MiB: a large field
    return frame, Encoder().encode_bytes(Done([frame]))


def test_the_last_bytes_of_a_large_field_and_the_message_after_it_are_read(engine) -> None:
    server, log = engine
    frame, message = frame_bytes()
    small, small_message = frame_bytes((4,))
    with socket.create_connection(server.address) as client:
        client.sendall(Encoder().encode_bytes(ClientType(GRABBER)))
        for cut in (len(message) - 10, len(message) // 3):  # the end missing: a few bytes, most of it
            client.sendall(message[:cut])
            wait_until(lambda: server.budget_used > 0, 10, 'the engine receiving the array')
            received = len(log.events)  # an index into the log: what comes after is this round's
            client.sendall(message[cut:] + small_message)  # a small message right behind: read at once too
            got = log.wait_for(lambda e: isinstance(e, MessageReceived) and isinstance(e.message, Done)
                               and e.message.data[0].shape == small.shape, after=received)
            first, second = [e.message.data[0] for e in log.events[received:]
                             if isinstance(e, MessageReceived) and isinstance(e.message, Done)]
            assert np.array_equal(first, frame) and np.array_equal(second, small) and got.message.data[0] is second


def test_a_peer_closing_in_the_middle_of_a_large_field_is_reported_at_once(engine) -> None:
    server, log = engine
    _, message = frame_bytes()
    with socket.create_connection(server.address) as client:
        client.sendall(Encoder().encode_bytes(ClientType(GRABBER)))
        client.sendall(message[:len(message) // 2])
        wait_until(lambda: server.budget_used > 0, 10, 'the engine receiving the array')
    lost = log.wait_for(lambda e: isinstance(e, ClientLost), timeout=10)  # the stall limit is 60 s
    assert 'in the middle of a message' in lost.reason
    wait_until(lambda: server.budget_used == 0, 10, 'the receive budget given back')
