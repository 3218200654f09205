"""Connect mode (PyMoDAQ#246): the instrument listens (``listen=True``, ``tcpbridge ... --listen``)
and the server dials it, again after each loss; a foreign commander can drive a listening instrument
with raw sockets.  Real sockets on 127.0.0.1, OS-chosen ports."""
from __future__ import annotations

import socket
import struct

import pytest

from helpers import EventLog, client_process, wait_until
from tcpbridge import (
    ACTUATOR,
    GRABBER,
    BridgeServer,
    ClientConnected,
    ClientLost,
    ConnectFailed,
    Done,
    MessageReceived,
    MoveAbs,
    MoveDone,
    SendData,
    SimulatedDetector,
    SimulatedStage,
)


def received(kind: type):
    return lambda e: isinstance(e, MessageReceived) and isinstance(e.message, kind)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def listening_stage():
    stage = SimulatedStage('127.0.0.1', 0, listen=True, speed=0.0, units='mm')
    thread = stage.start()
    assert stage.listening.wait(10)
    yield stage
    stage.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_server_dials_a_listening_actuator(listening_stage) -> None:
    log = EventLog()
    server = BridgeServer(*listening_stage.listen_address, ACTUATOR, log, dial=True)
    try:
        assert log.wait_for(lambda e: isinstance(e, ClientConnected)).client.in_control
        server.send(MoveAbs(2.5), expect=('move_done',), timeout=10)
        assert log.wait_for(received(MoveDone)).message.value == 2.5
        assert listening_stage.get_position() == 2.5
    finally:
        server.close()
    wait_until(lambda: not listening_stage.connected.is_set(), what='the stage to see the commander leave')


def test_server_redials_until_the_instrument_listens_and_after_it_restarts() -> None:
    port = free_port()
    log = EventLog()
    server = BridgeServer('127.0.0.1', port, GRABBER, log, dial=True)
    try:
        failed = log.wait_for(lambda e: isinstance(e, ConnectFailed))
        assert 'ECONNREFUSED' in failed.reason and failed.retry_in > 0
        with client_process('grabber', '--listen', f'127.0.0.1:{port}', '--dim', '0D'):
            log.wait_for(lambda e: isinstance(e, ClientConnected), timeout=20)
            server.send(SendData('0D'), expect=('Done',), timeout=10)
            log.wait_for(received(Done))
        log.wait_for(lambda e: isinstance(e, ClientLost))
        mark = len(log.events)
        # the instrument comes back on the same port: the server reaches it again by itself
        with client_process('grabber', '--listen', f'127.0.0.1:{port}', '--dim', '0D'):
            log.wait_for(lambda e: isinstance(e, ClientConnected), after=mark, timeout=30)
    finally:
        server.close()


def test_listening_detector_serves_successive_commanders() -> None:
    detector = SimulatedDetector('127.0.0.1', 0, listen=True, dim='0D', pattern=True)
    thread = detector.start()
    try:
        assert detector.listening.wait(10)
        for _ in range(2):
            log = EventLog()
            server = BridgeServer(*detector.listen_address, GRABBER, log, dial=True)
            try:
                log.wait_for(lambda e: isinstance(e, ClientConnected))
                server.send(SendData('0D'), expect=('Done',), timeout=10)
                log.wait_for(received(Done))
            finally:
                server.close()
            wait_until(lambda: not detector.connected.is_set(), what='the commander to leave')
    finally:
        detector.stop()
        thread.join(10)
    assert not thread.is_alive()


# -- a foreign commander, written as third-party control software would (legacy dialect, WIRE.md §2) --

def _send_string(sock: socket.socket, text: str) -> None:
    data = text.encode()
    sock.sendall(struct.pack('>i', len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, 'the instrument closed the connection'
        data += chunk
    return data


def _recv_string(sock: socket.socket) -> str:
    (n,) = struct.unpack('>i', _recv_exact(sock, 4))
    return _recv_exact(sock, n).decode()


def _recv_scalar(sock: socket.socket) -> float:
    """A legacy scalar: dtype string, then 4-byte length and the value (WIRE.md §1.3)."""
    dtype = _recv_string(sock)
    (n,) = struct.unpack('>i', _recv_exact(sock, 4))
    return float(__import__('numpy').frombuffer(_recv_exact(sock, n), dtype=dtype)[0])


def _send_scalar(sock: socket.socket, value: float) -> None:
    _send_string(sock, '<f8')
    sock.sendall(struct.pack('>i', 8) + struct.pack('<d', value))


def test_foreign_commander_moves_a_listening_stage(listening_stage) -> None:
    with socket.create_connection(listening_stage.listen_address, timeout=10) as sock:
        assert _recv_string(sock) == 'ACTUATOR'  # the hello
        assert _recv_string(sock) == 'Infos'
        _recv_string(sock)  # the settings XML
        _send_string(sock, 'move_abs')
        _send_scalar(sock, 4.25)
        assert _recv_string(sock) == 'move_done'
        assert _recv_scalar(sock) == 4.25
        _send_string(sock, 'check_position')
        assert _recv_string(sock) == 'position_is'
        assert _recv_scalar(sock) == 4.25
        _send_string(sock, 'Quit')
    assert listening_stage.get_position() == 4.25
