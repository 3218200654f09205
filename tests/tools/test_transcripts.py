"""examples/labview: the transcripts are what our encoder writes, and `tcpbridge replay` plays them
against the real plugins."""
from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import make_actuator, make_detector, wait_for_signal

from helpers import wait_until
from plugin_helpers import wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_1D.daq_1Dviewer_TCPServer import DAQ_1DViewer_TCPServer
from tcpbridge.tools import transcript

LABVIEW = Path(__file__).parents[2] / 'examples' / 'labview'
spec = importlib.util.spec_from_file_location('make_transcripts', LABVIEW / 'make_transcripts.py')
make_transcripts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_transcripts)


@pytest.mark.parametrize('name', list(make_transcripts.SESSIONS))
def test_transcripts_are_current(name: str) -> None:
    path = LABVIEW / 'transcripts' / f'{name}.txt'
    assert path.read_text(encoding='utf-8') == make_transcripts.transcript(name), \
        'run python examples/labview/make_transcripts.py'


def test_parse_rejects_bad_lines() -> None:
    with pytest.raises(ValueError, match='line 2'):
        transcript.parse('> 00 01\n? 00')
    with pytest.raises(ValueError, match='not a hex byte'):
        transcript.parse('> 0g')
    assert transcript.parse('< 00 ..  # any\n< 01\n> 02')[0].pattern == [0, None, 1]


@contextlib.contextmanager
def replaying(plugin, transcript_file: Path) -> Iterator[subprocess.Popen]:
    """``tcpbridge replay`` against ``plugin``; the plugin is closed and the player killed at the end."""
    player = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'replay', str(transcript_file), '--port',
                               str(plugin.bridge.address[1]), '--timeout', '30'], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        yield player
    finally:
        plugin.close()
        if player.poll() is None:
            player.kill()
            player.communicate()


def shipped(name: str) -> Path:
    return LABVIEW / 'transcripts' / f'{name}.txt'


@pytest.mark.parametrize('name', ['grabber_legacy', 'grabber_pymodaq4'])
def test_replay_grabber_against_the_plugin(name: str) -> None:
    plugin = make_detector(DAQ_1DViewer_TCPServer, port_id=0)
    with replaying(plugin, shipped(name)) as player:
        wait_connected(plugin)
        frames = 2 if name == 'grabber_legacy' else 1
        dtes = [wait_for_signal(plugin.dte_signal, plugin.grab_data, 30000) for _ in range(frames)]
        output, _ = player.communicate(timeout=60)
    assert player.returncode == 0, output
    assert output.count(': OK, the server sent SendData') == frames
    for frame, dte in enumerate(dtes, start=1):
        np.testing.assert_array_equal(dte[0].data[0], np.arange(4.0) + frame)  # '>f8' read right too
    if name == 'grabber_pymodaq4':
        assert (dtes[0][0].units, dtes[0][0].labels, dtes[0][0].axes[0].units) == ('counts', ['intensity'], 'nm')


@pytest.mark.parametrize('name', ['actuator_legacy', 'actuator_pymodaq4'])
def test_replay_actuator_against_the_plugin(name: str) -> None:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
    with replaying(plugin, shipped(name)) as player:
        wait_connected(plugin)
        wait_until(lambda: plugin.bridge.in_control and plugin.bridge.in_control.dialect, 30, 'the dialect', qt=True)
        wait_until(lambda: plugin.axis_unit == 'mm', 10, 'the units', qt=True)
        done = wait_for_signal(plugin.move_done_signal, lambda: plugin.move_abs(1.5), 30000)
        output, _ = player.communicate(timeout=60)
    assert player.returncode == 0, output
    assert done.value() == 1.5 and done.units == 'mm'
    assert 'OK, the server sent CheckPosition' in output and 'OK, the server sent MoveAbs' in output


def test_replay_reports_a_mismatch(tmp_path: Path) -> None:
    plugin = make_detector(DAQ_1DViewer_TCPServer, port_id=0)
    wrong = tmp_path / 'wrong.txt'
    wrong.write_text('> 00 00 00 07 47 52 41 42 42 45 52\n< 00 00 00 0c 53 65 6e 64 20 44 61 74 61 20 32 44\n')
    with replaying(plugin, wrong) as player:
        wait_connected(plugin)
        plugin.grab_data()
        output, _ = player.communicate(timeout=60)
    assert player.returncode == 1
    assert 'MISMATCH at byte 14: expected 32, got 31' in output and "SendData(dim='1D')" in output
