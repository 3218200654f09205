"""PyMoDAQ 5.0.18 and 5.1.13 modules (real DAQ_Move / DAQ_Viewer with the Mock plugins, in their own
virtual environments) ticking their own "Connect to server" towards our TCPServer plugins: the
pymodaq5 dialect end to end, and what their own bugs allow (5.1.x executes neither moves nor settings
sent over TCP; the plugin says so instead of hanging)."""
from __future__ import annotations

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import grab_and_wait, make_actuator, make_detector, move_abs_and_wait

from helpers import wait_until
from plugin_helpers import VIEWERS, StatusLog, wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from pymodaq_plugins_tcpbridge.plugin_settings import PYMODAQ5_LIMITS
from tcpbridge import Dialect

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]
FULL_VERSION = {'5.0': '5.0.18', '5.1': '5.1.13'}
SHAPES = {'0D': (1,), '1D': (512,), '2D': (200, 100)}  # the Mock 5.0.13 detectors


@pytest.mark.parametrize('version', ['5.0', '5.1'])
def test_pymodaq5_stage_module_with_our_plugin(peers, version: str) -> None:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0, timeout=8)
    status = StatusLog(plugin)
    try:
        peer = peers(version, 'peer_module5.py', 'move', str(plugin.bridge.address[1]))
        assert peer.wait_event(lambda e: e['event'] == 'initialised')['version'] == FULL_VERSION[version]
        wait_connected(plugin, 60)
        assert plugin.bridge.in_control.dialect is Dialect.PYMODAQ5
        status.wait_for('speaks pymodaq5 (a PyMoDAQ 5.0/5.1 module)')
        status.wait_for(PYMODAQ5_LIMITS)
        client = plugin.settings.child('settings_client')
        wait_until(lambda: client.children(), 20, 'the module settings (Infos)', qt=True)
        assert client['tau'] == 500 and client['units'] == 'µm'
        wait_until(lambda: plugin.axis_unit == 'µm', 10, 'the axis units', qt=True)
        # an edit in the module reaches the main PC (Info_xml), both versions
        peer.tell('edit epsilon 0.25')
        wait_until(lambda: client['epsilon'] == 0.25, 20, 'the Info_xml of the module', qt=True)
        # an edit on the main PC (set_info, with the root in its path)
        client.child('tau').setValue(123)
        plugin.commit_settings(client.child('tau'))
        if version == '5.0':  # applied to the right setting (5.x servers sent a path without root)
            assert peer.wait_event(lambda e: e['event'] == 'setting' and e['path'] == ['tau'])['value'] == 123
            position = move_abs_and_wait(plugin, 1.5, timeout_ms=30000)
            done = peer.wait_event(lambda e: e['event'] == 'move_done')
            assert position.value() == pytest.approx(done['position']) and position.units == 'µm'
            assert abs(position.value() - 1.5) <= 0.25  # the module's own "target reached"
        else:  # 5.1.13 cannot: the plugin says so, shows the module's value again, and does not hang
            status.wait_for('did not apply tau')
            wait_until(lambda: client['tau'] == 500, 10, 'the value the module kept', qt=True)
            plugin.move_abs(1.5)
            assert PYMODAQ5_LIMITS in status.wait_for('no move_done from the client', timeout=30)
    finally:
        plugin.close()


@pytest.mark.parametrize('version, dim', [('5.1', '0D'), ('5.1', '1D'), ('5.1', '2D'), ('5.0', '1D')])
def test_pymodaq5_detector_module_with_our_plugin(peers, version: str, dim: str) -> None:
    plugin = make_detector(VIEWERS[dim], port_id=0)
    try:
        peer = peers(version, 'peer_module5.py', 'viewer', str(plugin.bridge.address[1]), f'DAQ{dim}')
        assert peer.wait_event(lambda e: e['event'] == 'initialised')['version'] == FULL_VERSION[version]
        wait_connected(plugin, 60)
        wait_until(lambda: plugin.settings.child('settings_client').children(), 20, 'the module settings', qt=True)
        for _ in range(2):
            dte = grab_and_wait(plugin, timeout_ms=30000)
            dwa = dte[0]
            assert dwa.dim.name == f'Data{dim}' and dwa.shape == SHAPES[dim]
            assert np.all(np.isfinite(dwa.data[0]))
        assert dwa.name.startswith(f'Mock{dim}') and len(dwa) == (1 if dim == '2D' else 2)  # the Mock's channels
        assert plugin.bridge.in_control.dialect is Dialect.PYMODAQ5
    finally:
        plugin.close()
