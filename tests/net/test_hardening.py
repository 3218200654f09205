"""No client, broken or hostile, can stop, starve or poison the server engine, and no server can end a
client library's thread: real sockets on 127.0.0.1, the real engine and client library, bounded
loops (the long runs are ``python benchmarks/stress.py``)."""
from __future__ import annotations

import random
import socket
import threading
import time
from typing import Iterator, List

import numpy as np
import pytest
from corpus import client_streams, mutate, server_streams

from helpers import EventLog, wait_until
from tcpbridge import GRABBER, GrabberClient, Limits
from tcpbridge.net.transport import format_address
from tcpbridge.server import (
    BacklogLimits,
    BridgeServer,
    ClientConnected,
    ClientLost,
    ClientRefused,
    ControlChanged,
    EngineStopped,
    MessageReceived,
)
from tcpbridge.wire import Done, SendData, SetInfo

STREAMS = [data for name, data in client_streams() if name.startswith('grabber')]


@pytest.fixture
def engine() -> Iterator:
    servers: List[BridgeServer] = []

    def start(**policies: object) -> tuple:
        log = EventLog()
        server = BridgeServer('127.0.0.1', 0, GRABBER, log, **policies)
        servers.append(server)
        return server, log
    yield start
    for server in servers:
        server.close()


@pytest.fixture
def grabber() -> Iterator:
    clients: List[GrabberClient] = []

    def start(port: int, **kwargs: object) -> GrabberClient:
        client = GrabberClient('127.0.0.1', port, grab=lambda dim: [np.arange(4.0)], retry_delay=0.05,
                               max_retry_delay=0.2, **kwargs)
        client.start()
        clients.append(client)
        return client
    yield start
    for client in clients:
        client.stop()


def served(server: BridgeServer, log: EventLog, timeout: float = 5.0) -> bool:
    """True if the client in control answers a grab within ``timeout`` s."""
    after = len(log.events)
    if not server.send(SendData('1D'), expect=(Done,), timeout=timeout):
        return False
    try:
        log.wait_for(lambda e: isinstance(e, MessageReceived) and isinstance(e.message, Done), timeout, after)
    except AssertionError:
        return False
    return True


def raw(server: BridgeServer) -> socket.socket:
    return socket.create_connection(server.address[:2], timeout=5)


@pytest.mark.parametrize('backlog', [None, BacklogLimits(max_messages=4, max_hold_s=0.05)],
                         ids=['no-backlog', 'backlog-holding-messages-back'])
def test_mutated_messages_from_many_connections_leave_the_controller_served(engine, grabber, backlog) -> None:
    """With a backlog bound nobody releases (holds expire), messages are held back and handed over
    later: that path takes the mutated messages too."""
    server, log = engine(backlog=backlog)
    grabber(server.address[1])
    wait_until(lambda: server.in_control is not None, 10, 'the legitimate client')
    rng = random.Random(11)
    checks = []
    for i in range(240):
        with raw(server) as sock:
            try:
                sock.sendall(mutate(rng.choice(STREAMS), rng))
            except OSError:
                pass  # the server may close first: that is its right
        if i % 20 == 19:
            checks.append(served(server, log))
    assert all(checks) and len(checks) == 12
    assert server.running and not log.of_type(EngineStopped)
    wait_until(lambda: len(server.clients) == 1, 10, 'every hostile connection to be closed')


def test_a_client_that_does_not_read_is_dropped_when_its_queue_passes_the_limit(engine) -> None:
    server, log = engine(max_queued_bytes=1 << 20)
    with raw(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b'\x00\x00\x00\x07GRABBER')
        wait_until(lambda: server.in_control is not None, 10, 'the hello')
        xml = '<x type="str">' + 'a' * (256 << 10) + '</x>'
        offered = 0
        while offered < 400 and server.send(SetInfo(('settings', 'x'), xml)):
            offered += 1  # at most 100 MiB offered; it must be dropped long before
        lost = log.wait_for(lambda e: isinstance(e, ClientLost))
    assert 'does not read' in lost.reason and offered < 400
    assert server.in_control is None and server.running


def test_slow_handshakes_cannot_keep_a_client_out(engine, grabber) -> None:
    server, log = engine(max_handshaking=8, hello_timeout=30.0)
    trickling = [raw(server) for _ in range(30)]
    for sock in trickling:
        sock.sendall(b'\x00')  # the first byte of a hello, and then nothing for a long time
    started = time.monotonic()
    grabber(server.address[1])
    wait_until(lambda: server.in_control is not None, 5, 'the fresh client to be in control')
    assert time.monotonic() - started < 5
    assert served(server, log)
    for sock in trickling:
        sock.close()


def test_a_silent_client_in_control_hands_over_to_a_waiting_one(engine, grabber) -> None:
    server, log = engine(max_clients=8)
    silent = [raw(server) for _ in range(8)]
    for sock in silent:
        sock.sendall(b'\x00\x00\x00\x07GRABBER')  # hello, then silence
    wait_until(lambda: len([c for c in server.clients if c.client_type]) == 8, 10, 'eight hellos')
    grabber(server.address[1])   # evicts the waiting client silent the longest, and waits
    log.wait_for(lambda e: isinstance(e, ClientConnected) and not e.client.in_control)
    server.send(SendData('1D'), expect=(Done,), timeout=0.2)  # unanswered by the silent client in control
    changed = log.wait_for(lambda e: isinstance(e, ControlChanged) and e.client is not None)
    assert 'no Done within 0.2 s' in changed.reason
    assert served(server, log)
    assert log.of_type(ClientLost)[0].reason.startswith('8 clients connected')
    for sock in silent:
        sock.close()


def test_a_huge_claim_is_refused_by_the_shared_budget(engine, grabber) -> None:
    server, log = engine(limits=Limits(max_payload_bytes=2 << 30), budget_bytes=64 << 20)
    with raw(server) as sock:
        sock.sendall(b'\x00\x00\x00\x07GRABBER')
        wait_until(lambda: server.in_control is not None, 10, 'the hello')
        header = (b'\x00\x00\x00\x04Done' b'\x00\x00\x00\x01' b'\x00\x00\x00\x05array' b'\x00\x00\x00\x03|u1'
                  + (1 << 30).to_bytes(4, 'big') + b'\x00\x00\x00\x01' + (1 << 30).to_bytes(4, 'big'))
        sock.sendall(header + b'\x00' * 100)  # a 1 GiB array announced, then a trickle
        lost = log.wait_for(lambda e: isinstance(e, ClientLost))
    assert 'receive budget' in lost.reason
    assert server.budget_used == 0 and server.running


def test_a_message_that_trickles_is_dropped(engine) -> None:
    server, log = engine(message_timeout=0.5, min_rate=100e6)
    with raw(server) as sock:
        sock.sendall(b'\x00\x00\x00\x07GRABBER')
        wait_until(lambda: server.in_control is not None, 10, 'the hello')
        header = (b'\x00\x00\x00\x04Done' b'\x00\x00\x00\x01' b'\x00\x00\x00\x05array' b'\x00\x00\x00\x03|u1'
                  + (32 << 20).to_bytes(4, 'big') + b'\x00\x00\x00\x01' + (32 << 20).to_bytes(4, 'big'))
        sock.sendall(header)
        started = time.monotonic()
        lost = None
        while lost is None and time.monotonic() - started < 10:
            try:
                sock.sendall(b'\x00')  # one byte every 50 ms
            except OSError:
                break
            time.sleep(0.05)  # the trickle is the attack under test
            lost = next(iter(log.of_type(ClientLost)), None)
        lost = log.wait_for(lambda e: isinstance(e, ClientLost))
    assert 'too slowly' in lost.reason and time.monotonic() - started < 3
    assert server.budget_used == 0


def test_an_internal_error_of_the_loop_is_reported(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    server, log = engine()

    def broken(now: float) -> list:
        raise RuntimeError('a bug in the loop')
    monkeypatch.setattr(server._session, 'check_deadlines', broken)
    with raw(server):
        stopped = log.wait_for(lambda e: isinstance(e, EngineStopped))
    assert 'a bug in the loop' in stopped.reason
    wait_until(lambda: not server.running, 5, 'the engine to stop')


def test_the_client_thread_survives_whatever_a_server_sends(grabber) -> None:
    """A hostile server: each connection of the client gets mutated server messages; the client
    reconnects every time and its thread never ends."""
    listener = socket.create_server(('127.0.0.1', 0))
    listener.settimeout(10)
    client = grabber(listener.getsockname()[1])
    rng = random.Random(5)
    streams = [data for _, data in server_streams()]
    accepted = 0
    for _ in range(60):
        sock, _ = listener.accept()
        accepted += 1
        with sock:
            sock.settimeout(5)
            try:
                sock.recv(65536)  # its hello and settings
                sock.sendall(mutate(rng.choice(streams), rng) + b'\x00\x00\x00\x03bad')
                sock.recv(65536)  # until it closes (or answers)
            except OSError:
                pass
    listener.close()
    assert accepted == 60
    thread = next(t for t in threading.enumerate() if t.name == 'tcpbridge-grabber')
    assert thread.is_alive()
    client.stop()


def test_a_handler_that_raises_costs_the_connection_not_the_thread(engine, grabber, monkeypatch) -> None:
    server, log = engine()
    client = grabber(server.address[1])
    wait_until(lambda: server.in_control is not None, 10, 'the client')
    calls = []

    def broken_grab(dim: str) -> list:
        calls.append(dim)
        if len(calls) == 1:
            raise RuntimeError('instrument bug')  # reported as an Info; the grab goes unanswered
        return [np.arange(4.0)]
    monkeypatch.setattr(client, '_grab', broken_grab)
    first = server.in_control.id
    assert not served(server, log, timeout=1.0)
    # the unanswered grab closed the connection (docs/protocol.rst §8): the client comes back
    wait_until(lambda: server.in_control is not None and server.in_control.id != first, 10, 'the reconnection')
    assert served(server, log)

    def broken_dispatch(message: object) -> None:
        raise RuntimeError('library bug')
    monkeypatch.setattr(client, '_dispatch', broken_dispatch)
    first, after = server.in_control.id, len(log.events)
    server.send(SendData('1D'))
    log.wait_for(lambda e: isinstance(e, ClientLost), after=after)
    monkeypatch.undo()
    wait_until(lambda: server.in_control is not None and server.in_control.id != first, 10, 'the reconnection')
    assert served(server, log)


def test_an_allow_list_of_separators_is_an_error() -> None:
    with pytest.raises(ValueError, match='empty entry'):
        BridgeServer('127.0.0.1', 0, GRABBER, lambda e: None, allowed=[' ', ' '])


def test_refusals_name_the_peer_and_the_reason(engine) -> None:
    server, log = engine()
    with raw(server) as sock:
        port = sock.getsockname()[1]
        sock.sendall(b'\x00\x00\x00\x08ACTUATOR')
        refused = log.wait_for(lambda e: isinstance(e, ClientRefused))
    assert refused.peer == format_address(('127.0.0.1', port))
    assert "'ACTUATOR' is not a valid type here" in refused.reason
