"""Connect mode (PyMoDAQ#246): the instrument listens (``listen=True``, ``tcpbridge ... --listen``)
and the server dials it, again after each loss; a foreign commander can drive a listening instrument
with raw sockets.  Real sockets on 127.0.0.1, OS-chosen ports."""
from __future__ import annotations

import socket

import pytest

from helpers import EventLog, LegacyPeer, client_process, free_port, received, wait_until
from tcpbridge import ACTUATOR, GRABBER, SimulatedDetector, SimulatedStage
from tcpbridge.server import BridgeServer, ClientConnected, ClientLost, ConnectFailed
from tcpbridge.wire import Done, MoveAbs, MoveDone, SendData


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
        server.send(MoveAbs(2.5), expect=(MoveDone,), timeout=10)
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
            server.send(SendData('0D'), expect=(Done,), timeout=10)
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
                server.send(SendData('0D'), expect=(Done,), timeout=10)
                log.wait_for(received(Done))
            finally:
                server.close()
            wait_until(lambda: not detector.connected.is_set(), what='the commander to leave')
    finally:
        detector.stop()
        thread.join(10)
    assert not thread.is_alive()


# -- a foreign commander, written as third-party control software would (legacy dialect, docs/protocol.rst §2) --

def test_foreign_commander_moves_a_listening_stage(listening_stage) -> None:
    with socket.create_connection(listening_stage.listen_address, timeout=10) as sock:
        peer = LegacyPeer(sock)
        assert peer.string() == 'ACTUATOR'  # the hello
        assert peer.string() == 'Infos'
        peer.string()  # the settings XML
        peer.send_string('move_abs')
        peer.send_scalar(4.25)
        assert peer.string() == 'move_done'
        assert peer.scalar() == 4.25
        peer.send_string('check_position')
        assert peer.string() == 'position_is'
        assert peer.scalar() == 4.25
        peer.send_string('Quit')
    assert listening_stage.get_position() == 4.25
