"""The demo grabber and actuator, as real processes and in-process, against a server built on the
same core (tcpbridge.net.server), on 127.0.0.1 with OS-chosen ports."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator

import numpy as np
import pytest

from helpers import EventLog, client_process, received, wait_until
from tcpbridge import ACTUATOR, GRABBER, ActuatorClient, Dialect, SimulatedDetector, SimulatedStage
from tcpbridge.net.server import MAX_WAIT_S
from tcpbridge.server import (
    IN_CONTROL,
    WAITING,
    BridgeServer,
    ClientConnected,
    ClientLost,
    ClientRefused,
    ControlChanged,
    DialectDetected,
    ReplyTimeout,
)
from tcpbridge.wire import (
    CheckPosition,
    Done,
    Info,
    Infos,
    MoveAbs,
    MoveDone,
    MoveHome,
    MoveRel,
    PositionIs,
    SendData,
    SetInfo,
    StopMotion,
    data_actuator,
)


def serving(client_type: str):
    """A BridgeServer on a free loopback port and the log of its events; closed at the end."""
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, client_type, log)
    yield server, log
    server.close()


@pytest.fixture
def grabber_server():
    yield from serving(GRABBER)


@pytest.fixture
def actuator_server():
    yield from serving(ACTUATOR)


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4', 'pymodaq5'])
@pytest.mark.parametrize('dim, shape, dtype', [('0D', (1,), 'float64'), ('1D', (100,), 'float32'),
                                               ('2D', (64, 48), 'uint16'), ('ND', (3, 4, 5), 'int32')])
def test_demo_grabber_process(grabber_server, dialect: str, dim: str, shape: tuple, dtype: str) -> None:
    server, log = grabber_server
    args = ['grabber', '--port', str(server.address[1]), '--dim', dim, '--dtype', dtype, '--pattern',
            '--dialect', dialect, '--shape', 'x'.join(map(str, shape))]
    with client_process(*args):
        log.wait_for(lambda e: isinstance(e, ClientConnected))
        log.wait_for(received(Infos))
        frames = []
        for _ in range(3):
            mark = len(log.events)
            assert server.send(SendData(dim), expect=(Done,), timeout=10)
            frames.append(log.wait_for(received(Done), after=mark).message)
    assert log.wait_for(lambda e: isinstance(e, ClientLost)).reason == 'the client quit'
    for index, message in enumerate(frames, start=1):
        assert message.dialect is Dialect(dialect)
        array = message.data[0] if dialect == 'legacy' else message.data.data[0].data[0]
        assert array.shape == shape and array.dtype == np.dtype(dtype)
        # the pattern: a counter over the frame, shifted by the frame number
        np.testing.assert_array_equal(array.reshape(-1), (np.arange(np.prod(shape)) + index).astype(dtype))
    if dialect != 'legacy':
        dwa = frames[0].data.data[0]
        assert dwa.units == 'V' and dwa.labels == ['signal']
        if dim == '1D':
            assert dwa.axes[0].label == 'wavelength' and dwa.axes[0].units == 'nm'
    assert not log.of_type(ReplyTimeout)


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4', 'pymodaq5'])
def test_demo_actuator_process(actuator_server, dialect: str) -> None:
    server, log = actuator_server
    with client_process('actuator', '--port', str(server.address[1]), '--dialect', dialect,
                        '--units', 'mm', '--speed', '200', '--position', '1.25'):
        log.wait_for(lambda e: isinstance(e, ClientConnected))
        probe = log.wait_for(received(PositionIs)).message  # the check_position sent after the hello
        assert probe.value == 1.25 and probe.dialect is Dialect(dialect)
        assert log.wait_for(lambda e: isinstance(e, DialectDetected)).client.dialect is Dialect(dialect)
        for message, expected in [(MoveAbs(data_actuator(3.0, 'mm')), 3.0), (MoveRel(data_actuator(-0.5, 'mm')), 2.5),
                                  (MoveHome(), 0.0)]:
            mark = len(log.events)
            server.send(message, expect=(MoveDone,), timeout=10)
            done = log.wait_for(received(MoveDone), after=mark).message
            assert done.value == pytest.approx(expected)
            assert done.units == ('' if dialect == 'legacy' else 'mm')
        mark = len(log.events)
        server.send(CheckPosition())
        assert log.wait_for(received(PositionIs), after=mark).message.value == 0.0


@contextlib.contextmanager
def running(client, log: EventLog) -> Iterator[threading.Thread]:
    """``client`` connected (its probe answered) for the block; stopped after it, and its thread joined."""
    thread = client.start()
    try:
        log.wait_for(received(PositionIs))  # probe answer
        yield thread
    finally:
        client.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_actuator_reports_while_moving_and_stops(actuator_server) -> None:
    server, log = actuator_server
    stage = SimulatedStage(port=server.address[1], speed=5.0, units='mm')
    with running(stage, log):
        mark = len(log.events)
        server.send(MoveAbs(100.0), expect=(MoveDone,), timeout=30)
        # intermediate positions come while moving (every 0.1 s at 5 mm/s)
        moving = log.wait_for(lambda e: received(PositionIs)(e) and e.message.value > 0, after=mark).message
        assert 0 < moving.value < 100
        server.send(StopMotion())
        done = log.wait_for(received(MoveDone), after=mark).message
        assert 0 < done.value < 100 and done.value == stage.get_position()
        # stop_motion while idle is answered too (PyMoDAQ's clients ignored it)
        mark = len(log.events)
        server.send(StopMotion())
        assert log.wait_for(received(MoveDone), after=mark).message.value == done.value


class ThreadRecordingStage(SimulatedStage):
    """A SimulatedStage that notes the thread each move ran in."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.move_threads: list = []

    def move_abs(self, target: float) -> float:
        self.move_threads.append(threading.current_thread().name)
        return super().move_abs(target)


def move_and_wait(server: BridgeServer, log: EventLog, target: float) -> MoveDone:
    """Send move_abs to ``target``; the client's move_done."""
    mark = len(log.events)
    server.send(MoveAbs(target), expect=(MoveDone,), timeout=10)
    return log.wait_for(received(MoveDone), after=mark).message


def test_instant_moves_run_in_the_connection_thread_and_others_in_the_worker(actuator_server) -> None:
    """At speed 0 the stage's moves return at once: they run where they are read (no hand-over to the
    worker); once the server sets a speed, moves run in the worker again and stop_motion stops them."""
    server, log = actuator_server
    stage = ThreadRecordingStage(port=server.address[1], speed=0.0, units='mm')
    with running(stage, log) as thread:
        assert [move_and_wait(server, log, target).value for target in (1.0, 2.0, 3.0)] == [1.0, 2.0, 3.0]
        assert stage.move_threads == [thread.name] * 3
        mark = len(log.events)
        server.send(SetInfo(('move_settings', 'speed'), '<speed type="float" title="Speed (units/s):" visible="1" '
                                                        'removable="0" readonly="0">5.0</speed>'))
        wait_until(lambda: stage.setting('speed') == 5.0, 10, 'the new speed')
        server.send(MoveAbs(100.0), expect=(MoveDone,), timeout=30)
        log.wait_for(lambda e: received(PositionIs)(e) and e.message.value > 3.0, after=mark)
        server.send(StopMotion())
        done = log.wait_for(received(MoveDone), after=mark).message
        assert 3.0 < done.value < 100
        assert stage.move_threads[3].startswith('tcpbridge-move')
    assert not log.of_type(ReplyTimeout)


class UndecidedStage(SimulatedStage):
    """A stage whose moves_are_instant override raises."""

    def moves_are_instant(self) -> bool:
        raise RuntimeError('cannot tell')


def test_a_failing_moves_are_instant_override_leaves_the_move_to_the_worker(actuator_server) -> None:
    server, log = actuator_server
    with running(UndecidedStage(port=server.address[1], speed=0.0, units='mm'), log):
        assert [move_and_wait(server, log, target).value for target in (1.0, 2.0)] == [1.0, 2.0]
    assert log.wait_for(lambda e: isinstance(e, ClientLost)).reason == 'the client quit'  # the first loss, at the end


def test_a_failing_instant_move_is_reported_and_the_connection_stays(actuator_server) -> None:
    server, log = actuator_server
    position = [0.0]

    def move_abs(target: float) -> None:
        if target < 0:
            raise ValueError('below the lower limit')
        position[0] = target
    client = ActuatorClient(port=server.address[1], units='mm', get_position=lambda: position[0],
                            move_abs=move_abs, instant_moves=True)
    with running(client, log):
        for target, expected in ((2.0, 2.0), (-1.0, 2.0), (4.0, 4.0)):
            mark = len(log.events)
            assert move_and_wait(server, log, target).value == expected
            if target < 0:
                error = [e.message for e in log.events[mark:] if received(Info)(e)]
                assert error and 'below the lower limit' in error[0].value
    assert log.wait_for(lambda e: isinstance(e, ClientLost)).reason == 'the client quit'  # the first loss, at the end


def test_set_info_reaches_the_client_with_root_prefix(grabber_server) -> None:
    server, log = grabber_server
    changed = threading.Event()
    detector = SimulatedDetector(port=server.address[1], dim='0D', pattern=True)
    detector.on_setting_changed = lambda path, value: changed.set()
    thread = detector.start()
    try:
        log.wait_for(received(Infos))
        xml = '<amplitude type="float" title="Amplitude:" visible="1" removable="0" readonly="0">4.5</amplitude>'
        server.send(SetInfo(('detector_settings', 'amplitude'), xml))
        assert changed.wait(10)
        assert detector.setting('amplitude') == 4.5
    finally:
        detector.stop()
        thread.join(10)


def test_push_streaming(grabber_server) -> None:
    server, log = grabber_server
    with client_process('grabber', '--port', str(server.address[1]), '--dim', '1D', '--push-rate', '50'):
        first = log.wait_for(received(Done))
        index = log.events.index(first)
        log.wait_for(received(Done), after=index + 1)  # a second push, unrequested


def test_second_client_stands_by_and_takes_over(grabber_server) -> None:
    server, log = grabber_server
    port = str(server.address[1])
    with client_process('grabber', '--port', port, '--dim', '0D') as first:
        log.wait_for(lambda e: isinstance(e, ClientConnected) and e.client.role == IN_CONTROL)
        with client_process('grabber', '--port', port, '--dim', '0D'):
            log.wait_for(lambda e: isinstance(e, ClientConnected) and e.client.role == WAITING)
            assert [c.role for c in server.clients] == [IN_CONTROL, WAITING]
            # its settings came too (kept for when it takes over, not passed on while it stands by)
            wait_until(lambda: server.clients[-1].last_message == 'Infos', 10, 'the Infos of the waiting client')
            first.terminate()
            assert first.wait(10) == 0
            new = log.wait_for(lambda e: isinstance(e, ControlChanged) and e.client is not None)
            assert '<detector_settings' in new.infos_xml
            mark = len(log.events)
            server.send(SendData('0D'), expect=(Done,), timeout=10)
            assert log.wait_for(received(Done), after=mark).client.id == new.client.id


def test_wrong_type_and_silent_clients_are_refused() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, hello_timeout=0.3)
    try:
        # --once: it stops by itself, exit 1, with the plugin's reason (its refusal notice)
        ended = subprocess.run([sys.executable, '-m', 'tcpbridge', 'actuator', '--port', str(server.address[1]),
                                '--once'], capture_output=True, text=True, timeout=60)
        refused = log.wait_for(lambda e: isinstance(e, ClientRefused))
        assert "'ACTUATOR' is not a valid type" in refused.reason
        assert ended.returncode == 1 and refused.reason in ended.stderr, ended.stderr
        silent = socket.create_connection(server.address)
        try:
            refused = log.wait_for(lambda e: isinstance(e, ClientRefused) and 'no client type' in e.reason)
            assert silent.recv(1) == b''  # the server closed it
        finally:
            silent.close()
        assert server.clients == []
    finally:
        server.close()


def test_reply_timeout_is_reported(grabber_server) -> None:
    server, log = grabber_server
    with socket.create_connection(server.address) as fake:
        fake.sendall(b'\0\0\0\7GRABBER')
        log.wait_for(lambda e: isinstance(e, ClientConnected))
        server.send(SendData('1D'), expect=(Done,), timeout=0.2)
        timeout = log.wait_for(lambda e: isinstance(e, ReplyTimeout))
        assert timeout.command == 'Send Data 1D' and timeout.expected == (Done,)


@pytest.mark.parametrize('timeout', [0.2, MAX_WAIT_S + 0.5])
def test_reply_timeouts_before_and_after_the_engines_own_wake_up_are_both_reported(grabber_server, timeout) -> None:
    """``send`` wakes the engine only for a deadline before the engine's own wake-up (at most MAX_WAIT_S
    away): a later one is taken up when the engine wakes by itself; neither is reported early."""
    server, log = grabber_server
    for round_ in range(2):  # the engine idle in its select (no deadline of its own) both times
        connecting = len(log.events)
        with socket.create_connection(server.address) as fake:
            fake.sendall(b'\0\0\0\7GRABBER')
            log.wait_for(lambda e: isinstance(e, ClientConnected), after=connecting)
            sent, after = time.monotonic(), len(log.events)
            server.send(SendData('1D'), expect=(Done,), timeout=timeout)
            log.wait_for(lambda e: isinstance(e, ReplyTimeout), after=after, timeout=10)
            assert time.monotonic() - sent >= timeout, f'round {round_}: reported early'
            # the unanswered request closes the connection (a late reply must not answer a later one)
            lost = log.wait_for(lambda e: isinstance(e, ClientLost), after=after)
            assert f'no Done within {timeout:g} s' in lost.reason


def test_client_reconnects_after_server_restart() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log)
    port = server.address[1]
    with client_process('grabber', '--port', str(port), '--dim', '0D'):
        log.wait_for(lambda e: isinstance(e, ClientConnected))
        server.close()
        log2 = EventLog()
        server = BridgeServer('127.0.0.1', port, GRABBER, log2)  # same port, at once
        try:
            log2.wait_for(lambda e: isinstance(e, ClientConnected), timeout=20)
        finally:
            server.close()


def test_port_in_use_is_refused() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log)
    try:
        with pytest.raises(OSError):
            BridgeServer('127.0.0.1', server.address[1], GRABBER, log)
    finally:
        server.close()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip('no IPv6 in this Python')
    log = EventLog()
    try:
        server = BridgeServer('::1', 0, GRABBER, log)
    except OSError as error:
        pytest.skip(f'no IPv6 loopback here: {error}')
    try:
        with client_process('grabber', '--host', '::1', '--port', str(server.address[1]), '--dim', '0D'):
            connected = log.wait_for(lambda e: isinstance(e, ClientConnected))
            assert connected.client.peer.startswith('[::1]')
    finally:
        server.close()


def test_allow_list() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, allowed=['10.0.0.0/8', '192.168.1.5'])
    try:
        with socket.create_connection(server.address) as refused:
            event = log.wait_for(lambda e: isinstance(e, ClientRefused))
            assert '127.0.0.1 is not among the allowed clients (10.0.0.0/8, 192.168.1.5/32)' in event.reason
            assert refused.recv(1) == b''
    finally:
        server.close()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, allowed=['127.0.0.0/8'])
    try:
        with socket.create_connection(server.address) as accepted:
            accepted.sendall(b'\0\0\0\7GRABBER')
            log.wait_for(lambda e: isinstance(e, ClientConnected))
    finally:
        server.close()
    with pytest.raises(ValueError):
        BridgeServer('127.0.0.1', 0, GRABBER, log, allowed=['not-an-address'])


def test_a_refused_client_backs_off_instead_of_hammering_the_server() -> None:
    """A server that refuses the client after its hello (here: wrong type) sees it again after
    0.5 s, then 1 s, then 2 s (doubling): not thousands of times a minute."""
    refusals: list = []

    def on_event(event) -> None:
        if isinstance(event, ClientRefused):
            refusals.append(time.monotonic())
    server = BridgeServer('127.0.0.1', 0, ACTUATOR, on_event)
    detector = SimulatedDetector(port=server.address[1], dim='0D')
    thread = detector.start()
    try:
        wait_until(lambda: len(refusals) >= 3, 15, 'three refused attempts')
        first, second = refusals[1] - refusals[0], refusals[2] - refusals[1]
        assert first >= 0.45 and second >= 0.9, (first, second)
    finally:
        detector.stop()
        thread.join(10)
        server.close()
