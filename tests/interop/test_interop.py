"""Wire compatibility with the real PyMoDAQ 3.6.13, 4.3.7 and 4.4.11 code, each in its own virtual
environment: their TCPClient against our plugins, and our client library against their TCP servers.
4.3 speaks the 4.2/4.3 layout of the pymodaq4 dialect (no units field)."""
from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import (
    grab_and_wait,
    make_actuator,
    move_abs_and_wait,
    move_home_and_wait,
    move_rel_and_wait,
    wait_for_signal,
)

from helpers import wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_detector, wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from tcpbridge import DwaLayout, SimulatedDetector, SimulatedStage
from tcpbridge.tools.conformance import FAIL, PASS, WARN, check_client
from tcpbridge.tools.monitor import Monitor

# the first test of each version creates its virtual environment (pip install: minutes)
pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]
DIALECT = {'3.6': 'legacy', '4.3': 'pymodaq4', '4.4': 'pymodaq4'}
LAYOUT = {'3.6': DwaLayout.V4_4, '4.3': DwaLayout.V4_2, '4.4': DwaLayout.V4_4}
FULL_VERSION = {'3.6': '3.6.13', '4.3': '4.3.7', '4.4': '4.4.11'}


@pytest.mark.parametrize('version', ['3.6', '4.3', '4.4'])
@pytest.mark.parametrize('dim', ['0D', '1D', '2D'])
def test_pymodaq_grabber_client_with_our_plugin(peers, version: str, dim: str) -> None:
    plugin = make_tcp_detector(VIEWERS[dim], port_id=0, reply_timeout=30)
    status = StatusLog(plugin)
    try:
        peer = peers(version, 'peer_client.py', 'GRABBER', str(plugin.bridge.address[1]), dim)
        wait_connected(plugin, 60)
        # Infos, then the Info_xml the client sends when its exposure changes, then an Info
        wait_until(lambda: [c.name() for c in plugin.settings.child('infos').children()] == ['serial'], 30,
                   'the Info of the client', qt=True)
        assert plugin.settings['settings_client', 'exposure'] == 25.0
        assert plugin.settings['settings_client', 'mode'] == 'fast'
        assert plugin.settings['infos', 'serial'] == f'PEER-{FULL_VERSION[version]}'
        dtes = [grab_and_wait(plugin, timeout_ms=30000) for _ in range(2)]
        detected = status.wait_for(f'speaks {DIALECT[version]}')
        if version != '3.6':
            assert detected.endswith('layout 4.4' if version == '4.4' else 'layout 4.2')
        shape = {'0D': (1,), '1D': (16,), '2D': (8, 12)}[dim]
        for frame, dte in enumerate(dtes, start=1):
            dwa = dte[0]
            expected = np.arange(np.prod(shape), dtype=float).reshape(shape) + frame
            np.testing.assert_array_equal(dwa.data[0], expected)
            np.testing.assert_array_equal(dwa.data[1], 2 * expected)
        dwa = dtes[0][0]
        if version != '3.6':  # 4.3 has no units field: its DataWithAxes carry none on the wire
            assert (dwa.name, dwa.labels, dwa.units) == ('spectrum', ['a', 'b'], 'V' if version == '4.4' else '')
        if dim == '1D':  # 4.4: axis in the DataWithAxes; 3.6: sent apart as x_axis
            axis = dwa.axes[0]
            assert (axis.label, axis.units) == ('wavelength', 'nm')
            np.testing.assert_allclose(axis.get_data(), np.linspace(500, 515, 16))
        exposure = plugin.settings.child('settings_client', 'exposure')
        exposure.setValue(40.0)
        plugin.commit_settings(exposure)
        event = peer.wait_event(lambda e: e['event'] == 'set_info')
        # our server prefixes the client's root group, so PyMoDAQ's clients apply it where it belongs
        assert event == {'event': 'set_info', 'path': ['detector_settings', 'exposure'], 'value': 40.0}
    finally:
        plugin.close()


@pytest.mark.parametrize('version', ['3.6', '4.3', '4.4'])
def test_pymodaq_actuator_client_with_our_plugin(peers, version: str) -> None:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0, timeout=30)
    status = StatusLog(plugin)
    try:
        peer = peers(version, 'peer_client.py', 'ACTUATOR', str(plugin.bridge.address[1]), '0D')
        wait_connected(plugin, 60)
        # the check_position sent after the hello is answered by every version: it tells the dialect
        peer.wait_event(lambda e: e['event'] == 'check_position')
        status.wait_for(f'speaks {DIALECT[version]}')
        wait_until(lambda: plugin.axis_unit == 'mm', 10, 'the units of the client', qt=True)
        assert move_abs_and_wait(plugin, 1.5, timeout_ms=30000).value() == pytest.approx(1.5)
        assert peer.wait_event(lambda e: e['event'] == 'move_abs')['units'] == ('mm' if version == '4.4' else '')
        assert move_rel_and_wait(plugin, 0.5, timeout_ms=30000).value() == pytest.approx(2.0)
        assert move_home_and_wait(plugin, timeout_ms=30000).value() == pytest.approx(0.0)
        # PyMoDAQ's clients ignore stop_motion: with no move under way the plugin ends the stop at once,
        # at the last known position (during a move it would wait 2 s for the client's move_done)
        done = wait_for_signal(plugin.move_done_signal, plugin.stop_motion, 10000)
        assert done.value() == pytest.approx(0.0)
        assert peer.wait_event(lambda e: e.get('command') == 'stop_motion')['event'] == 'ignored'
    finally:
        plugin.close()


@pytest.mark.parametrize('version, dim', [('3.6', '2D'), ('4.3', '1D'), ('4.4', '1D'), ('4.4', '2D')])
def test_our_grabber_with_pymodaq_server(peers, version: str, dim: str) -> None:
    peer = peers(version, 'peer_server.py', 'GRABBER', dim)
    port = peer.wait_event(lambda e: e['event'] == 'listening')['port']
    detector = SimulatedDetector(port=port, dim=dim, dialect=DIALECT[version], pattern=True,
                                 shape=(8, 12) if dim == '2D' else (16,), layout=LAYOUT[version])
    thread = detector.start()
    try:
        connected = peer.wait_event(lambda e: e['event'] == 'connected')
        assert connected['settings'] == ['exposure', 'amplitude', 'noise', 'peak_at', 'peak_width', 'mode']
        for index in range(3):
            data = peer.wait_event(lambda e, i=index: e['event'] == 'data' and e['index'] == i)['data'][0]
            shape = (8, 12) if dim == '2D' else (16,)
            assert data['shape'] == list(shape) and data['first'] == index + 1
            assert data['sums'][0] == float((np.arange(np.prod(shape)) + index + 1).sum())
            if version != '3.6':
                assert data['labels'] == ['signal'] and data['units'] == ('V' if version == '4.4' else '')
                if dim == '1D':
                    assert data['axes'] == [['wavelength', 'nm', 16]]
        peer.wait_event(lambda e: e['event'] == 'set_info_sent')
        wait_until(lambda: detector.setting('exposure') == 42.0, 10, 'the set_info of the server')
    finally:
        detector.stop()
        thread.join(10)


@pytest.mark.parametrize('version', ['3.6', '4.3', '4.4'])
def test_our_actuator_with_pymodaq_server(peers, version: str) -> None:
    peer = peers(version, 'peer_server.py', 'ACTUATOR', '0D')
    port = peer.wait_event(lambda e: e['event'] == 'listening')['port']
    stage = SimulatedStage(port=port, dialect=DIALECT[version], speed=0, units='mm', layout=LAYOUT[version])
    thread = stage.start()
    try:
        connected = peer.wait_event(lambda e: e['event'] == 'connected')
        if version == '4.4':
            assert connected['units'] == 'mm'  # read from our settings_client/units
        moves = [e['value'] for e in (peer.wait_event(lambda e, n=n: e['event'] == 'move_done' and
                                                      len([x for x in peer.events if x['event'] == 'move_done']) > n)
                                      for n in range(3))]
        assert moves == [2.5, 3.5, 0.0]
        assert peer.wait_event(lambda e: e['event'] == 'position')['value'] == 0.0
        peer.wait_event(lambda e: e['event'] == 'done')
        wait_until(lambda: stage.setting('speed') == 3.0, 10, 'the set_info of the server')
        assert stage.get_position() == 0.0
    finally:
        stage.stop()
        thread.join(10)



@pytest.mark.parametrize('version', ['3.6', '4.3', '4.4'])
@pytest.mark.parametrize('role', ['GRABBER', 'ACTUATOR'])
def test_check_client_passes_the_real_pymodaq_clients(peers, version: str, role: str) -> None:
    """tcpbridge check-client against PyMoDAQ's own TCPClient: no failure; their known quirks
    (stop_motion ignored) are warnings."""
    found: list = []
    listening = threading.Event()
    checker = threading.Thread(target=lambda: found.append(check_client(
        role.lower(), '127.0.0.1', 0, timeout=30.0, wait_connect=120.0,
        on_listening=lambda address: (found.append(address[1]), listening.set()))))
    checker.start()
    assert listening.wait(10)
    peers(version, 'peer_client.py', role, str(found[0]), '1D')
    checker.join(300)
    assert not checker.is_alive()
    steps = found[1]
    failed = [s for s in steps if s.status == FAIL]
    assert not failed, failed
    statuses = {s.name: s.status for s in steps}
    assert statuses['dialect'] == PASS
    if role == 'ACTUATOR':  # PyMoDAQ's DAQ_Move ignores stop_motion: a warning, as documented
        assert statuses['stop_motion'] == WARN


@pytest.mark.parametrize('version', ['3.6', '4.4'])
def test_monitor_between_a_real_pymodaq_client_and_our_plugin(peers, version: str, tmp_path) -> None:
    """The relay changes nothing: the real client's data arrive through it as they do directly, and
    every message is printed decoded."""
    plugin = make_tcp_detector(VIEWERS['1D'], port_id=0, reply_timeout=30)
    out = io.StringIO()
    monitor = Monitor('127.0.0.1', 0, '127.0.0.1', plugin.bridge.address[1], out=out)
    relay = threading.Thread(target=monitor.serve, kwargs={'sessions': 1}, daemon=True)
    relay.start()
    try:
        peers(version, 'peer_client.py', 'GRABBER', str(monitor.address[1]), '1D')
        wait_connected(plugin, 60)
        dte = grab_and_wait(plugin, timeout_ms=30000)
        expected = np.arange(16, dtype=float) + 1
        np.testing.assert_array_equal(dte[0].data[0], expected)
        wait_until(lambda: 'Done' in out.getvalue(), 10, 'the monitor to print the data')
        assert 'hello GRABBER' in out.getvalue() and 'Send Data 1D' in out.getvalue()
        assert ('x_axis' in out.getvalue()) is (version == '3.6')
    finally:
        plugin.close()
        monitor.stop()
        relay.join(10)
