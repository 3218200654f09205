"""``tcpbridge monitor`` between real peers and the real plugins: the session works through it as it
does directly, every message is printed decoded, and the saved transcript replays with
``tcpbridge replay``."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
from pymodaq.utils.plugin_testing import grab_and_wait, make_actuator, make_detector, wait_for_signal

from helpers import client_process, wait_until
from plugin_helpers import VIEWERS, wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from tcpbridge.tools.monitor import Monitor


@contextlib.contextmanager
def relaying(port: int, save: Path) -> Iterator[tuple]:
    """A Monitor in a thread between 127.0.0.1:<free port> and the plugin's ``port``."""
    out = io.StringIO()
    with open(save, 'w', encoding='utf-8') as transcript:
        monitor = Monitor('127.0.0.1', 0, '127.0.0.1', port, out=out, save=transcript)
        thread = threading.Thread(target=monitor.serve, kwargs={'sessions': 1}, daemon=True)
        thread.start()
        try:
            yield monitor, out
        finally:
            monitor.stop()
            thread.join(10)
    assert not thread.is_alive()


def test_a_grabber_session_through_the_monitor_and_its_replay(tmp_path: Path) -> None:
    plugin = make_detector(VIEWERS['1D'], port_id=0)
    saved = tmp_path / 'session.txt'
    try:
        with relaying(plugin.bridge.address[1], saved) as (monitor, out):
            with client_process('grabber', '--port', str(monitor.address[1]), '--dim', '1D', '--dialect',
                                'pymodaq4', '--pattern', '--shape', '300'):
                wait_connected(plugin)
                frames = [grab_and_wait(plugin, timeout_ms=10000)[0] for _ in range(2)]
            wait_until(lambda: 'session ended' in out.getvalue(), 10, 'the end of the session')
        for index, dwa in enumerate(frames, start=1):  # the data went through unchanged
            np.testing.assert_array_equal(dwa.data[0], np.arange(300) + index)
        text = out.getvalue()
        assert '>        11 B  hello GRABBER' in text and '<        16 B  Send Data 1D' in text
        assert "Done pymodaq4 DataToExport 'demo': simulated (DataFromPlugins, V): 300 <f8 [1..300]" in text
        assert '>         8 B  Quit' in text
    finally:
        plugin.close()
    replay_against_new_plugin(saved, frames)


def replay_against_new_plugin(saved: Path, frames: list) -> None:
    plugin = make_detector(VIEWERS['1D'], port_id=0)
    player = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'replay', str(saved), '--port',
                               str(plugin.bridge.address[1]), '--timeout', '30'], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_connected(plugin)
        replayed = [wait_for_signal(plugin.dte_signal, plugin.grab_data, 30000)[0] for _ in frames]
        output, _ = player.communicate(timeout=60)
    finally:
        plugin.close()
        if player.poll() is None:
            player.kill()
            player.communicate()
    assert player.returncode == 0, output
    for got, sent in zip(replayed, frames):
        np.testing.assert_array_equal(got.data[0], sent.data[0])


def test_an_actuator_session_through_the_monitor(tmp_path: Path) -> None:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
    try:
        with relaying(plugin.bridge.address[1], tmp_path / 'session.txt') as (monitor, out), \
                client_process('actuator', '--port', str(monitor.address[1]), '--speed', '0'):
            wait_until(lambda: plugin.bridge.in_control and plugin.bridge.in_control.dialect, 20,
                       'the probe', qt=True)
            done = wait_for_signal(plugin.move_done_signal, lambda: plugin.move_abs(2.0), 10000)
            assert done.value() == 2.0
        text = out.getvalue()
        assert 'B  check_position' in text and 'B  position_is 0.0 (legacy)' in text
        assert 'B  move_abs 2.0 (legacy)' in text and 'B  move_done 2.0 (legacy)' in text
    finally:
        plugin.close()
