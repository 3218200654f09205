"""No stale reply ever answers a later request (docs/protocol.rst §8).

The real plugins against real client processes whose answers take a scripted time
(``tests/slow_client.py``), and raw-socket clients written as a LabVIEW program would (they keep a
late reply and send it anyway).  Each test asserts which request every emitted ``move_done`` / data
set answers, and what the status says.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest
from pymodaq.utils.plugin_testing import (
    make_actuator,
    move_abs_and_wait,
    wait_for_signal,
)

from helpers import LegacyPeer, stop_process, wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_detector, wait_connected, wait_disconnected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from tcpbridge.wire import ClientType, Encoder

SLOW_CLIENT = Path(__file__).parents[1] / 'slow_client.py'


@contextlib.contextmanager
def slow_client(tmp_path: Path, role: str, plugin, dialect: str, delays: str) -> Iterator[Path]:
    """``tests/slow_client.py`` in its own process; yields its log file; SIGTERM at the end (exit 0)."""
    log = tmp_path / f'{role}.log'
    with open(log, 'w') as output:
        process = subprocess.Popen([sys.executable, str(SLOW_CLIENT), role, '--port', str(plugin.bridge.address[1]),
                                    '--dialect', dialect, '--delays', delays], stdout=output, stderr=output)
        try:
            yield log
        finally:
            stop_process(process, 'tests/slow_client.py', log)


def recorded(signal_) -> List:
    """Every emission of ``signal_`` (its first argument), in order."""
    values: List = []
    signal_.connect(values.append)
    return values


def reconnected(plugin, previous: int, timeout: float = 15.0) -> None:
    """Until a client is in control on a connection other than ``previous``."""
    wait_until(lambda: plugin.bridge.in_control is not None and plugin.bridge.in_control.id != previous, timeout,
               'the client back on a new connection', qt=True)


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4'])
def test_a_late_move_done_never_ends_a_later_move(plugins, tmp_path: Path, dialect: str) -> None:
    """Move timeout 1 s (PyMoDAQ's setting is in whole seconds), a first move that takes 2 s: the plugin
    reports the timeout and closes the connection; the next move_abs(7), sent while the first move still
    runs, ends at 7, not 5."""
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0, timeout=1)
    plugins.append(plugin)
    status = StatusLog(plugin)
    done = recorded(plugin.move_done_signal)
    with slow_client(tmp_path, 'actuator', plugin, dialect, delays='2,0') as log:
        wait_connected(plugin)
        first = plugin.bridge.in_control.id
        plugin.move_abs(5.0)
        timeout = status.wait_for('no move_done from the client within 1 s after move_abs')
        assert 'connection closed, so that its late move_done cannot end a later move' in timeout
        status.wait_for('a late reply could be taken for the reply to a later request')
        reconnected(plugin, first)
        plugin.settings.child('timeout').setValue(10)
        assert move_abs_and_wait(plugin, 7.0, timeout_ms=15000).value() == 7.0
        assert move_abs_and_wait(plugin, 8.0, timeout_ms=15000).value() == 8.0
    assert [d.value() for d in done] == [7.0, 8.0]
    text = log.read_text()
    # the first move ran to its end on the client, whose move_done went nowhere: its connection had ended
    assert 'move 1 to 5 ended' in text and 'MoveDone not sent' in text, text[-2000:]


def test_a_late_data_set_never_answers_a_later_grab(plugins, tmp_path: Path) -> None:
    """Reply timeout 1 s, a first grab that takes 2 s: the data of grab n carry n; the next grab gets
    grab 2's data, never grab 1's."""
    plugin = make_tcp_detector(VIEWERS['0D'], port_id=0, reply_timeout=1.0)
    plugins.append(plugin)
    status = StatusLog(plugin)
    data = recorded(plugin.dte_signal)
    with slow_client(tmp_path, 'grabber', plugin, 'legacy', delays='2,0'):
        wait_connected(plugin)
        first = plugin.bridge.in_control.id
        plugin.grab_data()
        timeout = status.wait_for("no data from the client within 1 s after 'Send Data 0D'")
        assert 'connection closed, so that the late data cannot answer a later grab' in timeout
        wait_disconnected(plugin, 5)
        plugin.grab_data()  # at once, as a scan that goes on would: it waits for the client to be back
        status.wait_for('has no client for Send Data 0D')
        wait_until(lambda: data, 15, 'the data of the client back', qt=True)
        assert plugin.bridge.in_control.id != first
    assert [d[0].data[0][0] for d in data] == [2.0]


def test_a_plugin_reinitialised_during_a_move_gets_no_move_done_of_the_old_connection(plugins, tmp_path) -> None:
    """The plugin is closed and initialised again while the client moves (1.5 s): the client reconnects
    at once and must not send the old move's move_done on the new connection."""
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0, timeout=10)
    plugins.append(plugin)
    done = recorded(plugin.move_done_signal)
    with slow_client(tmp_path, 'actuator', plugin, 'pymodaq4', delays='1.5,0') as log:
        wait_connected(plugin)
        plugin.move_abs(5.0)
        wait_until(lambda: 'move 1 to 5:' in log.read_text(), 10, 'the client to start the move')
        plugin.close()
        info, initialized = plugin.ini_stage()
        assert initialized, info
        wait_connected(plugin)
        assert move_abs_and_wait(plugin, 7.0, timeout_ms=15000).value() == 7.0
    assert [d.value() for d in done] == [7.0]
    assert 'move 1 to 5 ended' in log.read_text()


def test_a_legacy_client_that_sends_its_late_reply_anyway_cannot_end_a_later_move(plugins) -> None:
    """A client written by hand (LabVIEW) keeps its late move_done and sends it: on the connection the
    plugin closed it goes nowhere; sent first thing on its new connection, before any move was asked
    for, it is a position report, not the end of a move."""
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0, timeout=1)
    plugins.append(plugin)
    status = StatusLog(plugin)
    done = recorded(plugin.move_done_signal)

    def hello(sock: socket.socket) -> LegacyPeer:
        sock.settimeout(10)
        peer = LegacyPeer(sock)
        sock.sendall(Encoder().encode_bytes(ClientType('ACTUATOR')))
        assert peer.string() == 'check_position'  # the dialect probe
        peer.send_string('position_is')
        peer.send_scalar(0.0)
        return peer

    with socket.create_connection(plugin.bridge.address) as old:
        peer = hello(old)
        wait_connected(plugin)
        plugin.move_abs(5.0)
        assert peer.string() == 'move_abs' and peer.scalar() == 5.0
        status.wait_for('no move_done from the client within 1 s after move_abs')
        assert old.recv(1) == b''  # closed by the plugin
        with contextlib.suppress(OSError):
            peer.send_string('move_done')
            peer.send_scalar(5.0)
    wait_disconnected(plugin)
    with socket.create_connection(plugin.bridge.address) as new:
        peer = hello(new)
        wait_connected(plugin)
        peer.send_string('move_done')  # the stale reply, on the new connection, nothing asked yet
        peer.send_scalar(5.0)
        wait_until(lambda: plugin._current_value.value() == 5.0, 10, 'the position report', qt=True)
        assert done == []

        def move_and_answer() -> None:
            plugin.move_abs(7.0)
            assert peer.string() == 'move_abs' and peer.scalar() == 7.0
            peer.send_string('move_done')
            peer.send_scalar(7.0)
        plugin.settings.child('timeout').setValue(10)
        assert wait_for_signal(plugin.move_done_signal, move_and_answer, 10000).value() == 7.0
    assert [d.value() for d in done] == [7.0]


def test_a_move_ended_here_at_a_stop_is_not_ended_again_by_its_late_move_done(plugins, tmp_path: Path) -> None:
    """The client ignores stop_motion (as PyMoDAQ's own clients do): the plugin ends the move after 2 s at
    the last known position; the move's own move_done, a second later, is a position report, and the next
    move ends with its own move_done only."""
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0, timeout=10)
    plugins.append(plugin)
    status = StatusLog(plugin)
    done = recorded(plugin.move_done_signal)
    with slow_client(tmp_path, 'actuator', plugin, 'legacy', delays='3.5,0') as log:
        wait_connected(plugin)
        wait_until(lambda: plugin.axis_unit == 'mm' and plugin.current_value.units == 'mm', 10, 'the probe answer',
                   qt=True)
        plugin.move_abs(5.0)
        wait_until(lambda: 'move 1 to 5:' in log.read_text(), 10, 'the client to start the move')
        assert wait_for_signal(plugin.move_done_signal, plugin.stop_motion, 10000).value() == 0.0
        assert any('did not end the move within 2 s of stop_motion' in text for text in status.texts)
        assert move_abs_and_wait(plugin, 7.0, timeout_ms=15000).value() == 7.0
        assert 'move 1 to 5 ended' in log.read_text()
    assert [d.value() for d in done] == [0.0, 7.0]
