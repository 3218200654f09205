"""``tcpbridge module ... --leco-name``: one instrument on the instrument PC reached at once by the bridge
(the main PC's TCPServer plugin) and by LECO (PyMoDAQ's LECODirector plugins), through a real pyleco
Coordinator process; the module in its own process, the TCPServer plugin and the directors in this one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import grab_and_wait, move_abs_and_wait

from helpers import wait_until
from leco_helpers import answers, director, move_through
from plugin_helpers import wait_connected
from pymodaq_plugins_tcpbridge.apps.module import close

from .test_module import FAST_STAGE, MOCK_EPSILON, actuator_plugin, detector_plugin, module_process, stop_module

#: see test_serve.py: PyMoDAQ 5.3.8's LECODirector lets a late ping's TimeoutError escape a Qt slot
pytestmark = [pytest.mark.timeout(300), pytest.mark.qt_no_exception_capture]


def test_a_hosted_stage_is_moved_by_leco_and_by_the_bridge(plugins: list, tmp_path: Path, coordinator: int) -> None:
    plugin = actuator_plugin(plugins)
    process = module_process(tmp_path, 'move', 'Mock', '--port', str(plugin.bridge.address[1]), *FAST_STAGE,
                             '--leco-name', 'hosted_stage', '--coordinator', f'127.0.0.1:{coordinator}')
    module = None
    try:
        wait_connected(plugin, timeout=60)
        wait_until(lambda: answers('hosted_stage', coordinator), 60, 'the hosted module to sign in to LECO')
        module = director('move', 'hosted_stage', coordinator)
        assert move_through(module, 2.0) == pytest.approx(2.0, abs=MOCK_EPSILON)
        # the main PC's plugin reads where LECO put the stage, then moves it in turn
        wait_until(lambda: abs(plugin.get_actuator_value().value() - 2.0) < MOCK_EPSILON, 20,
                   'the bridge to read the position set through LECO', qt=True)
        assert move_abs_and_wait(plugin, -1.0, timeout_ms=20000).value() == pytest.approx(-1.0, abs=MOCK_EPSILON)
        assert move_through(module, 0.5) == pytest.approx(0.5, abs=MOCK_EPSILON)
    finally:
        if module is not None:
            close(module)
        output = stop_module(process, tmp_path)
    assert "LECO actor 'hosted_stage'" in output and 'Traceback' not in output


def test_a_hosted_camera_is_snapped_by_leco_and_by_the_bridge(plugins: list, tmp_path: Path,
                                                              coordinator: int) -> None:
    plugin = detector_plugin(plugins, '2D')
    process = module_process(tmp_path, 'viewer', 'DAQ2D/Mock', '--port', str(plugin.bridge.address[1]),
                             '--leco-name', 'hosted_camera', '--coordinator', f'127.0.0.1:{coordinator}')
    module = None
    try:
        wait_connected(plugin, timeout=60)
        wait_until(lambda: answers('hosted_camera', coordinator), 60, 'the hosted module to sign in to LECO')
        module = director('viewer', 'hosted_camera', coordinator, daq_type='DAQ2D')
        grabbed: list = []
        module.grab_done_signal.connect(grabbed.append)
        module.snap()
        wait_until(lambda: grabbed, 30, 'the snap through LECO', qt=True)
        through_leco = grabbed[-1].get_data_from_dim('Data2D')[0]
        through_bridge = grab_and_wait(plugin, timeout_ms=20000)[0]
        assert through_leco.shape == through_bridge.shape == (200, 100)  # the Mock camera's frame
        assert np.isfinite(through_leco.data[0]).all() and np.isfinite(through_bridge.data[0]).all()
    finally:
        if module is not None:
            close(module)
        output = stop_module(process, tmp_path)
    assert "LECO actor 'hosted_camera'" in output and 'Traceback' not in output
