"""The real PyMoDAQ 5 plugin classes against real `tcpbridge` client processes, both dialects."""
from __future__ import annotations

import socket
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import (
    PluginPackageChecks,
    SignalTimeout,
    grab_and_wait,
    make_detector,
    move_abs_and_wait,
    move_home_and_wait,
    move_rel_and_wait,
    wait_for_signal,
)

from helpers import client_process, wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_actuator, make_tcp_detector, wait_connected, wait_disconnected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_0D.daq_0Dviewer_TCPServer import DAQ_0DViewer_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_1D.daq_1Dviewer_TCPServer import DAQ_1DViewer_TCPServer
from pymodaq_plugins_tcpbridge.plugin_settings import LIMITS, SECURITY
from tcpbridge import GrabberClient
from tcpbridge.wire import ClientType, Done, Encoder, Infos

SHAPES = {'0D': (1,), '1D': (50,), '2D': (20, 30), 'ND': (3, 4, 5)}


class TestPluginPackage(PluginPackageChecks):
    package_name = 'pymodaq_plugins_tcpbridge'
    fail_on = 'warning'
    strict_imports = True


def test_check_plugin_command() -> None:
    result = subprocess.run([sys.executable, '-m', 'pymodaq_utils.plugin_tools.checks', 'pymodaq_plugins_tcpbridge',
                             '--fail-on', 'warning', '--strict-imports', '--color', 'never'],
                            capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'OK (7 checked)' in result.stdout


def test_plugins_are_listed_under_remote() -> None:
    from pymodaq.utils.daq_utils import get_plugins
    from pymodaq_utils.categorizing import REMOTE_ITEMS
    assert 'TCPServer' in REMOTE_ITEMS
    assert 'TCPServer' in [p['name'] for p in get_plugins('daq_move')]
    for dim in ('0D', '1D', '2D', 'ND'):
        assert 'TCPServer' in [p['name'] for p in get_plugins(f'daq_{dim}viewer')]


@pytest.fixture
def viewer(request):
    plugins = []

    def make(dim: str, **settings):
        plugin = make_tcp_detector(VIEWERS[dim], **{"port_id": 0, **settings})
        plugins.append(plugin)
        return plugin
    yield make
    for plugin in plugins:
        plugin.close()


@pytest.fixture
def actuator():
    plugins = []

    def make(**settings):
        plugin = make_tcp_actuator(DAQ_Move_TCPServer, **{"port_id": 0, **settings})
        plugins.append(plugin)
        return plugin
    yield make
    for plugin in plugins:
        plugin.close()


def port_of(plugin) -> str:
    return str(plugin.bridge.address[1])


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4', 'pymodaq5'])
@pytest.mark.parametrize('dim', ['0D', '1D', '2D', 'ND'])
def test_grab(viewer, dim: str, dialect: str) -> None:
    plugin = viewer(dim)
    assert plugin.initialized and 'listening on 127.0.0.1:' in plugin.init_info
    shape = SHAPES[dim]
    with client_process('grabber', '--port', port_of(plugin), '--dim', dim, '--dialect', dialect, '--pattern',
                        '--dtype', 'uint16', '--shape', 'x'.join(map(str, shape))):
        wait_connected(plugin)
        dtes = [grab_and_wait(plugin, timeout_ms=10000) for _ in range(2)]
        assert plugin.settings['connected']
        assert 'GRABBER, in control, ' + dialect in str(plugin.settings['conn_clients'])
    for index, dte in enumerate(dtes, start=1):
        dwa = dte[0]
        assert dwa.dim.name == ('DataND' if dim == 'ND' else f'Data{dim}')
        assert dwa.shape == shape and dwa.data[0].dtype == np.uint16
        np.testing.assert_array_equal(dwa.data[0].reshape(-1), np.arange(np.prod(shape)) + index)
    if dialect != 'legacy':
        dwa = dtes[0][0]
        assert dwa.units == 'V' and dwa.labels == ['signal'] and dwa.name == 'simulated'
        if dim == '1D':
            assert dwa.get_axis_from_index(0)[0].units == 'nm'
        if dim == '2D':
            assert [a.label for a in dwa.axes] == ['y', 'x'] and dwa.axes[0].units == 'µm'
    wait_disconnected(plugin)


def test_settings_sync_both_ways(viewer) -> None:
    plugin = viewer('0D')
    with client_process('grabber', '--port', port_of(plugin), '--dim', '0D', '--pattern'):
        wait_connected(plugin)
        wait_until(lambda: plugin.settings.child('settings_client').children(), 10, 'client settings', qt=True)
        amplitude = plugin.settings.child('settings_client', 'amplitude')
        assert amplitude.value() == 1.0
        amplitude.setValue(3.0)
        plugin.commit_settings(amplitude)  # what DAQ_Viewer does when the user edits it
        # the demo detector answers with the new amplitude in gaussian mode: switch modes the same way
        mode = plugin.settings.child('settings_client', 'mode')
        mode.setValue('gaussian')
        plugin.commit_settings(mode)
        plugin.settings.child('settings_client', 'noise').setValue(0.0)
        plugin.commit_settings(plugin.settings.child('settings_client', 'noise'))
        dte = grab_and_wait(plugin, timeout_ms=10000)
    # no demo stage: the signal is at its full (new) amplitude
    assert dte[0].data[0][0] == pytest.approx(3.0)


def test_push_is_emitted_without_grab(viewer) -> None:
    plugin = viewer('1D')
    with client_process('grabber', '--port', port_of(plugin), '--dim', '1D', '--push-rate', '20'):
        wait_connected(plugin)
        dte = wait_for_signal(plugin.dte_signal, lambda: None, timeout_ms=10000)
    assert dte[0].shape == (256,)


def test_no_client_no_data(viewer) -> None:
    plugin = viewer('1D')
    status = StatusLog(plugin)
    with pytest.raises(SignalTimeout):
        grab_and_wait(plugin, timeout_ms=300)
    assert 'no client connected: nothing to grab' in status.texts


def test_silent_client_times_out_and_next_grab_works(viewer) -> None:
    plugin = viewer('0D', reply_timeout=0.3)
    status = StatusLog(plugin)
    request = b'\0\0\0\x0cSend Data 0D'
    with socket.create_connection(plugin.bridge.address) as client:
        client.settimeout(10)
        client.sendall(Encoder().encode_bytes(ClientType('GRABBER')))
        wait_connected(plugin)
        with pytest.raises(SignalTimeout):
            grab_and_wait(plugin, timeout_ms=500)
        status.wait_for("no data from the client within 0.3 s after 'Send Data 0D'")
        assert client.recv(len(request)) == request
        assert client.recv(1) == b''  # closed: its late answer could not be told from the next one's
        wait_disconnected(plugin)
    plugin.settings.child(LIMITS, 'reply_timeout').setValue(10.0)
    with socket.create_connection(plugin.bridge.address) as client:
        client.settimeout(10)
        client.sendall(Encoder().encode_bytes(ClientType('GRABBER')))
        wait_connected(plugin)

        def grab_and_answer() -> None:
            plugin.grab_data()
            assert client.recv(len(request)) == request
            client.sendall(Encoder().encode_bytes(Done([np.array([8.0])])))
        dte = wait_for_signal(plugin.dte_signal, grab_and_answer, 10000)
    assert dte[0].data[0][0] == 8.0


@pytest.mark.parametrize('garbage, reason', [
    (b'\xff' * 64, 'protocol error'),
    (struct.pack('>I', 4) + b'Done' + struct.pack('>I', 1) + b'\0\0\0\5array\0\0\0\3<f8' + struct.pack('>I', 2 ** 31)
     + b'\0\0\0\1' + struct.pack('>I', 2 ** 28), 'over the limit'),
    (struct.pack('>I', 4) + b'Done' + struct.pack('>I', 1) + b'\0\0\0\5array\0\0\0\3<f8\0\0\0\x10\0\0\0\1\0\0\0\2'
     + b'\0' * 8, 'in the middle of a message'),  # the client dies mid-frame
])
def test_bad_client_is_dropped_and_next_client_works(viewer, garbage: bytes, reason: str) -> None:
    plugin = viewer('0D')
    status = StatusLog(plugin)
    with socket.create_connection(plugin.bridge.address) as bad:
        bad.sendall(Encoder().encode_bytes(ClientType('GRABBER')) + garbage)
        bad.shutdown(socket.SHUT_WR)
        status.wait_for(reason)
        wait_disconnected(plugin)
    with client_process('grabber', '--port', port_of(plugin), '--dim', '0D', '--pattern'):
        wait_connected(plugin)
        assert grab_and_wait(plugin, timeout_ms=10000)[0].data[0][0] == 1.0


def test_second_client_waits(viewer) -> None:
    plugin = viewer('0D')
    status = StatusLog(plugin)
    with client_process('grabber', '--port', port_of(plugin), '--dim', '0D'):
        wait_connected(plugin)
        with client_process('grabber', '--port', port_of(plugin), '--dim', '0D'):
            status.wait_for('it waits')
            wait_until(lambda: len(plugin.settings['conn_clients']) == 2, 10, 'two rows in the table', qt=True)
            assert sorted(v.split(', ')[1] for v in plugin.settings['conn_clients'].values()) == \
                ['in control', 'waiting']


def test_wrong_client_type_is_refused(viewer) -> None:
    plugin = viewer('0D')
    status = StatusLog(plugin)
    ended = subprocess.run([sys.executable, '-m', 'tcpbridge', 'actuator', '--port', port_of(plugin), '--once'],
                           capture_output=True, text=True, timeout=60)
    status.wait_for("'ACTUATOR' is not a valid type here")
    assert ended.returncode == 1 and "'ACTUATOR' is not a valid type here" in ended.stderr, ended.stderr
    assert not plugin.client_connected


def test_port_in_use_and_reinit_on_same_port(viewer) -> None:
    first = viewer('1D')
    port = first.bridge.address[1]
    second = make_detector(DAQ_1DViewer_TCPServer, port_id=port)
    assert not second.initialized and 'port is already in use' in second.init_info
    second.close()
    first.close()
    again = viewer('1D', port_id=port)  # immediately, on the same port
    assert again.initialized and again.bridge.address[1] == port


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4', 'pymodaq5'])
def test_actuator(actuator, dialect: str) -> None:
    plugin = actuator()
    assert plugin.initialized
    with client_process('actuator', '--port', port_of(plugin), '--dialect', dialect, '--units', 'mm',
                        '--speed', '100', '--position', '0.5'):
        wait_connected(plugin)
        wait_until(lambda: plugin.axis_unit == 'mm', 10, 'the client units', qt=True)
        wait_until(lambda: plugin.bridge.in_control and plugin.bridge.in_control.dialect, 10, 'dialect', qt=True)
        assert plugin.bridge.in_control.dialect.value == dialect
        position = move_abs_and_wait(plugin, 2.5, timeout_ms=10000)
        assert position.value() == pytest.approx(2.5) and position.units == 'mm'
        assert plugin.target_value.value() == pytest.approx(2.5)
        position = move_rel_and_wait(plugin, -1.0, timeout_ms=10000)
        assert position.value() == pytest.approx(1.5)
        assert plugin.target_value.value() == pytest.approx(1.5)
        position = move_home_and_wait(plugin, timeout_ms=10000)
        assert position.value() == pytest.approx(0.0)


def test_actuator_bounds_set_the_target_and_the_move(actuator) -> None:
    plugin = actuator()
    plugin.settings.child('bounds', 'is_bounds').setValue(True)
    plugin.settings.child('bounds', 'min_bound').setValue(-1.0)
    plugin.settings.child('bounds', 'max_bound').setValue(2.0)
    with client_process('actuator', '--port', port_of(plugin), '--speed', '0'):
        wait_connected(plugin)
        wait_until(lambda: plugin.bridge.in_control and plugin.bridge.in_control.dialect, 10, 'dialect', qt=True)
        assert move_abs_and_wait(plugin, 2.5, timeout_ms=10000).value() == pytest.approx(2.0)
        assert plugin.target_value.value() == pytest.approx(2.0)
        assert move_rel_and_wait(plugin, -5.0, timeout_ms=10000).value() == pytest.approx(-1.0)
        assert plugin.target_value.value() == pytest.approx(-1.0)


def test_actuator_stop_motion(actuator) -> None:
    plugin = actuator()
    with client_process('actuator', '--port', port_of(plugin), '--speed', '2'):
        wait_connected(plugin)
        plugin.move_abs(50.0)
        wait_until(lambda: plugin._current_value.value() > 0.1, 10, 'intermediate positions', qt=True)
        position = wait_for_signal(plugin.move_done_signal, plugin.stop_motion, 10000)
    assert 0.1 < position.value() < 50


def test_actuator_without_answer_times_out(actuator) -> None:
    plugin = actuator(timeout=1)
    status = StatusLog(plugin)
    with socket.create_connection(plugin.bridge.address) as mute:
        mute.sendall(Encoder().encode_bytes(ClientType('ACTUATOR')) + Encoder().encode_bytes(Infos('<s/>')))
        wait_connected(plugin)
        plugin.move_abs(1.0)
        status.wait_for('no move_done from the client within 1 s after move_abs')
        assert any(c.command == 'raise_timeout' for c in status.commands)


def test_client_error_is_shown_and_next_grab_works(viewer) -> None:
    plugin = viewer('0D', reply_timeout=0.5)
    status = StatusLog(plugin)
    failures = iter([RuntimeError('camera not cooled')])

    def grab(dim: str):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return [np.array([3.0])]
    client = GrabberClient(port=plugin.bridge.address[1], grab=grab)
    thread = client.start()
    try:
        wait_connected(plugin)
        first = plugin.bridge.in_control.id
        with pytest.raises(SignalTimeout):
            grab_and_wait(plugin, timeout_ms=1500)
        status.wait_for('client reports: grab failed: camera not cooled')
        # the grab stays unanswered: at the reply timeout the connection is closed (a late answer must not
        # answer the next grab) and the client reconnects clean
        status.wait_for("no data from the client within 0.5 s after 'Send Data 0D': connection closed")
        wait_until(lambda: plugin.client_connected and plugin.bridge.in_control.id != first, 10, 'the reconnection',
                   qt=True)
        assert grab_and_wait(plugin, timeout_ms=5000)[0].data[0][0] == 3.0
    finally:
        client.stop()
        thread.join(10)


def test_allowed_clients_setting(viewer) -> None:
    plugin = viewer('0D', allowed_clients='10.1.2.0/24')
    status = StatusLog(plugin)
    with socket.create_connection(plugin.bridge.address):
        status.wait_for('127.0.0.1 is not among the allowed clients (10.1.2.0/24)')
    assert not plugin.client_connected
    bad = make_tcp_detector(DAQ_0DViewer_TCPServer, port_id=0, allowed_clients='lab-pc')
    assert not bad.initialized and "invalid allowed clients 'lab-pc'" in bad.init_info
    bad.close()


def test_the_summary_line_says_who_is_connected_or_what_the_plugin_waits_for(viewer) -> None:
    """The first setting, one line: what a scientist looks for first (issue 28)."""
    plugin = viewer('1D')
    port = port_of(plugin)
    summary = plugin.settings.child('summary')
    names = [c.name() for c in plugin.settings.children()]  # after PyMoDAQ's own common settings
    assert names.index('summary') + 1 == names.index('connected') == names.index('status') - 1
    assert names.index('status') < names.index('connection') < names.index('conn_clients') < names.index(SECURITY)
    assert names[-2:] == [SECURITY, LIMITS]  # what is set once, last and collapsed
    for group, inside in ((SECURITY, 'tls_cert'), (LIMITS, 'reconnect_wait')):
        assert not plugin.settings.child(group).opts['expanded']
        assert inside in [c.name() for c in plugin.settings.child(group).children()]
    assert summary.value() == f'waiting for a GRABBER client on port {port}'
    with client_process('grabber', '--port', port, '--dim', '1D', '--dialect', 'pymodaq4'):
        wait_until(lambda: summary.value().startswith('GRABBER 127.0.0.1:'), 15, 'the client in the summary',
                   qt=True)
        assert ' connected ' in summary.value()
        grab_and_wait(plugin, timeout_ms=10000)  # its first data tell its dialect
        wait_until(lambda: summary.value().endswith(', pymodaq4'), 10, 'the dialect in the summary', qt=True)
    wait_until(lambda: summary.value().startswith('client gone at '), 15, 'the departure in the summary', qt=True)
    assert summary.value().endswith(f'the client quit; waiting for a GRABBER client on port {port}')
    assert summary.opts['tip'] == summary.value()  # the full text, whatever the column width
