"""The TCPServer plugins in *connect to instrument* mode dial an instrument that listens (PyMoDAQ#246),
here the demo clients started with ``--listen``: same commands and data as in listen mode."""
from __future__ import annotations

import pytest
from pymodaq.utils.plugin_testing import grab_and_wait, make_actuator, make_detector, move_abs_and_wait

from helpers import client_process, free_port, wait_until
from plugin_helpers import VIEWERS, StatusLog, wait_connected, wait_disconnected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from pymodaq_plugins_tcpbridge.plugin_settings import CONNECT


def test_actuator_plugin_dials_a_listening_stage(plugins) -> None:
    port = free_port()
    with client_process('actuator', '--listen', f'127.0.0.1:{port}', '--units', 'mm', '--speed', '0'):
        plugin = make_actuator(DAQ_Move_TCPServer, connection=CONNECT, socket_ip='127.0.0.1', port_id=port)
        plugins.append(plugin)
        assert plugin.initialized and 'connecting to the ACTUATOR instrument at 127.0.0.1:' in plugin.init_info
        wait_connected(plugin)
        wait_until(lambda: plugin.axis_unit == 'mm', 10, 'the instrument units', qt=True)
        position = move_abs_and_wait(plugin, 1.75, timeout_ms=10000)
        assert position.value() == pytest.approx(1.75) and position.units == 'mm'
    wait_disconnected(plugin)


def test_viewer_plugin_waits_for_the_instrument_then_grabs(plugins) -> None:
    port = free_port()
    plugin = make_detector(VIEWERS['1D'], connection=CONNECT, socket_ip='127.0.0.1', port_id=port)
    plugins.append(plugin)
    status = StatusLog(plugin)
    assert plugin.initialized  # no instrument yet: the plugin keeps trying, it does not fail
    assert 'ECONNREFUSED' in status.wait_for('cannot reach the instrument at 127.0.0.1:')
    with client_process('grabber', '--listen', f'127.0.0.1:{port}', '--dim', '1D', '--pattern', '--shape', '8'):
        wait_connected(plugin, timeout=30)
        dte = grab_and_wait(plugin, timeout_ms=10000)
        assert dte[0].shape == (8,)
    wait_disconnected(plugin)
    # the instrument restarts: the plugin reaches it again without being touched
    with client_process('grabber', '--listen', f'127.0.0.1:{port}', '--dim', '1D', '--pattern', '--shape', '8'):
        wait_connected(plugin, timeout=30)
        assert grab_and_wait(plugin, timeout_ms=10000)[0].shape == (8,)
