"""The example clients of examples/ run against the real plugins."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import grab_and_wait, make_actuator, make_detector, move_abs_and_wait, wait_for_signal

from helpers import wait_until
from plugin_helpers import wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_1D.daq_1Dviewer_TCPServer import DAQ_1DViewer_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer import DAQ_2DViewer_TCPServer

EXAMPLES = Path(__file__).parents[2] / 'examples'


@pytest.fixture
def example():
    started = []

    def run(name: str, port: int, *args: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, str(EXAMPLES / name), '--port', str(port), *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(process)
        return process
    yield run
    for process in started:
        process.terminate()
        process.communicate(timeout=15)


def test_camera_grabber(example) -> None:
    plugin = make_detector(DAQ_2DViewer_TCPServer, port_id=0)
    try:
        example('camera_grabber.py', plugin.bridge.address[1])
        wait_connected(plugin)
        wait_until(lambda: plugin.settings.child('settings_client').children(), 10, 'settings', qt=True)
        dte = grab_and_wait(plugin, timeout_ms=10000)
        assert dte[0].shape == (480, 640) and dte[0].data[0].dtype == np.uint16
        assert 5 < dte[0].data[0].mean() < 15  # Poisson around the 10 ms exposure
    finally:
        plugin.close()


def test_stage_actuator(example) -> None:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
    try:
        example('stage_actuator.py', plugin.bridge.address[1])
        wait_connected(plugin)
        wait_until(lambda: plugin.axis_unit == 'mm', 10, 'units', qt=True)
        positions = []
        plugin.emit_value = positions.append  # intermediate positions while it moves
        assert move_abs_and_wait(plugin, 0.5, timeout_ms=10000).value() == pytest.approx(0.5)
        assert len(positions) >= 3 and 0 < positions[1].value() < 0.5
    finally:
        plugin.close()


def test_streaming_detector(example) -> None:
    plugin = make_detector(DAQ_1DViewer_TCPServer, port_id=0)
    try:
        example('streaming_detector.py', plugin.bridge.address[1], '--rate', '20')
        wait_connected(plugin)
        dte = wait_for_signal(plugin.dte_signal, lambda: None, 10000)  # pushed, not grabbed
        assert dte[0].units == 'counts' and dte[0].axes[0].units == 'nm' and dte[0].shape == (1024,)
    finally:
        plugin.close()
