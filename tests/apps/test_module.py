"""``tcpbridge module``: real PyMoDAQ 5 modules (DAQ_Move / DAQ_Viewer with pymodaq_plugins_mock 5.3's
Mock plugins) bridged to our TCPServer plugins, on 127.0.0.1 with OS-chosen ports.

The command runs in its own process (as on an instrument PC); the settings-mirror tests host the module
in this process too, so that both sides can be edited and read.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import grab_and_wait, move_abs_and_wait
from qtpy.QtWidgets import QLabel

from helpers import LegacyPeer, free_port, qt_app, stop_process, wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_actuator, make_tcp_detector, wait_connected, wait_disconnected
from pymodaq_plugins_tcpbridge.apps.actuator_host import ActuatorHost
from pymodaq_plugins_tcpbridge.apps.module import ModuleOptions, create_module, initialise, installed_plugins
from pymodaq_plugins_tcpbridge.apps.module_host import CONTROLLER_TITLE, Endpoint
from pymodaq_plugins_tcpbridge.apps.viewer_host import ViewerHost
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from pymodaq_plugins_tcpbridge.plugin_settings import CONNECT
from tcpbridge.wire import SetInfo

#: the Mock stage's axis Y: "target reached" within 1e-4 (its plugin's epsilon), fast time constant
FAST_STAGE = ('--axis', 'Y', '--set', 'tau=20')
MOCK_EPSILON = 1e-4


def module_process(tmp_path: Path, *args: str) -> subprocess.Popen:
    """``tcpbridge module ARGS`` with its PyMoDAQ folders under ``tmp_path``; output in module.log."""
    log = open(tmp_path / 'module.log', 'a')  # noqa: SIM115 (closed with the process by stop_module)
    return subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'module', *args, '--timeout', '30',
                             '--pymodaq-home', str(tmp_path / 'pymodaq')], stdout=log, stderr=log, text=True)


def stop_module(process: subprocess.Popen, tmp_path: Path, signum: int = signal.SIGTERM) -> str:
    """Stop it as a user would; it must exit 0 by itself.  Returns its output."""
    return stop_process(process, 'tcpbridge module', tmp_path / 'module.log', signum)


def actuator_plugin(plugins: list, **settings):
    plugin = make_tcp_actuator(DAQ_Move_TCPServer, **{'port_id': 0, **settings})
    plugins.append(plugin)
    return plugin


def detector_plugin(plugins: list, dim: str, **settings):
    plugin = make_tcp_detector(VIEWERS[dim], **{'port_id': 0, **settings})
    plugins.append(plugin)
    return plugin


def test_list_shows_the_installed_mock_plugins(tmp_path: Path) -> None:
    process = subprocess.run([sys.executable, '-m', 'tcpbridge', 'module', '--list', '--pymodaq-home',
                              str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.split()
    assert 'Mock' in lines and 'DAQ2D/Mock' in lines and 'DAQ0D/Mock' in lines
    assert not any('TCPServer' in line for line in lines)  # hosting a bridge would bridge a bridge
    assert process.stderr.count('WARNING') == 0, process.stderr  # PyMoDAQ's start-up noise is kept out


def test_unknown_plugin_is_refused_clearly(tmp_path: Path) -> None:
    process = subprocess.run([sys.executable, '-m', 'tcpbridge', 'module', 'move', 'NoSuchStage',
                              '--pymodaq-home', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert process.returncode == 1
    assert "no actuator plugin 'NoSuchStage' installed; installed: " in process.stderr and 'Mock' in process.stderr


@pytest.mark.parametrize('dialect', ['pymodaq4', 'legacy'])
def test_hosted_mock_stage_moves(plugins: list, tmp_path: Path, dialect: str) -> None:
    plugin = actuator_plugin(plugins)
    # --set survives the plugin's initialisation, which sets its own epsilon (pymodaq4 case)
    epsilon = 5e-4 if dialect == 'pymodaq4' else MOCK_EPSILON
    process = module_process(tmp_path, 'move', 'Mock', '--port', str(plugin.bridge.address[1]),
                             '--dialect', dialect, *FAST_STAGE,
                             *(('--set', f'epsilon={epsilon}') if epsilon != MOCK_EPSILON else ()))
    try:
        wait_connected(plugin, timeout=60)
        # the module's hardware settings, PyMoDAQ's own, arrive as the client's settings
        wait_until(lambda: plugin.settings.child('settings_client').children(), 10, 'the settings', qt=True)
        assert plugin.settings['settings_client', 'tau'] == 20
        units = plugin.settings['settings_client', 'units']  # the hosted axis' units, e.g. 'mm'
        wait_until(lambda: plugin.settings['settings_client', 'epsilon'] == epsilon, 10, 'the epsilon', qt=True)
        assert units
        wait_until(lambda: plugin.axis_unit == units, 10, 'the axis units', qt=True)
        for target in (3.0, -1.5):
            position = move_abs_and_wait(plugin, target, timeout_ms=20000)
            assert position.value() == pytest.approx(target, abs=epsilon) and position.units == units
        # the module's status lines are shown on the main PC
        wait_until(lambda: plugin.settings.child('infos').children(), 10, 'the status Info', qt=True)
        assert plugin.settings['infos', 'status']
    finally:
        output = stop_module(process, tmp_path)
    assert f'move_abs 3 {units}' in output and 'move done at' in output
    wait_disconnected(plugin)


@pytest.mark.parametrize('dim, shape, axes', [('0D', (1,), []), ('1D', (512,), ['photon wavelength']),
                                             ('2D', (200, 100), ['the y axis', 'the x axis'])])
def test_hosted_mock_detector_grabs(plugins: list, tmp_path: Path, dim: str, shape: tuple, axes: list) -> None:
    plugin = detector_plugin(plugins, dim)
    process = module_process(tmp_path, 'viewer', f'DAQ{dim}/Mock', '--port', str(plugin.bridge.address[1]))
    try:
        wait_connected(plugin, timeout=60)
        dte = grab_and_wait(plugin, timeout_ms=20000)
    finally:
        stop_module(process, tmp_path)
    dwa = dte[0]
    assert dwa.name.startswith(f'Mock{dim}') or dwa.name.startswith('Mock')
    assert dwa.shape == shape and dwa.dim.name == f'Data{dim}'
    assert [axis.label for axis in dwa.axes] == axes
    assert np.all(np.isfinite(dwa.data[0])) and np.ptp(dwa.data[0]) >= 0
    if dim == '1D':
        assert dwa.axes[0].units == 'nm' and dwa.axes[0].get_data().shape == (512,)


def test_hosted_live_grab_is_pushed(plugins: list, tmp_path: Path) -> None:
    plugin = detector_plugin(plugins, '1D')
    received: list = []
    plugin.dte_signal.connect(received.append)
    process = module_process(tmp_path, 'viewer', 'DAQ1D/Mock', '--port', str(plugin.bridge.address[1]), '--grab')
    try:
        wait_connected(plugin, timeout=60)
        wait_until(lambda: len(received) >= 5, 30, 'frames pushed by the live grab', qt=True)
    finally:
        stop_module(process, tmp_path)
    assert all(dte[0].shape == (512,) for dte in received[:5])


def test_ctrl_c_closes_the_hardware_and_plugin_restart_is_followed(plugins: list, tmp_path: Path) -> None:
    plugin = actuator_plugin(plugins)
    port = plugin.bridge.address[1]
    process = module_process(tmp_path, 'move', 'Mock', '--port', str(port), *FAST_STAGE)
    try:
        wait_connected(plugin, timeout=60)
        # the main PC re-initialises its plugin (same port): the module connects again by itself
        plugin.close()
        wait_until(lambda: 'disconnected from' in (tmp_path / 'module.log').read_text(), 20, 'the module to see it',
                   qt=True)
        again = actuator_plugin(plugins, port_id=port)
        wait_connected(again, timeout=30)
        assert move_abs_and_wait(again, 1.25, timeout_ms=20000).value() == pytest.approx(1.25, abs=MOCK_EPSILON)
        status = StatusLog(again)
    finally:
        output = stop_module(process, tmp_path, signal.SIGINT)
    assert 'stopping' in output and 'Traceback' not in output
    status.wait_for('lost: the client quit', timeout=20)


# -- settings mirrored both ways (module hosted in this process) ------------------------------------

def hosted(kind: str, plugin_name: str, port: int, **options) -> Tuple[object, object, object]:
    qt_app()
    module, _ = create_module(ModuleOptions(kind, plugin_name, Endpoint('127.0.0.1', port), **options))
    initialise(module, 30)
    host = (ActuatorHost if kind == 'move' else ViewerHost)(module, Endpoint('127.0.0.1', port), 20)
    host.attach()
    wait_until(lambda: host.ready, 20, 'the module position', qt=True)
    return module, host, host.start()


def test_settings_are_mirrored_both_ways(plugins: list) -> None:
    plugin = actuator_plugin(plugins)
    module, host, thread = hosted('move', 'Mock', plugin.bridge.address[1], settings=[('tau', '20')])
    try:
        wait_connected(plugin)
        client = plugin.settings.child('settings_client')
        wait_until(lambda: client.children() and client['tau'] == 20, 10, 'the module settings', qt=True)
        # edited in the module (its window, or its plugin) -> shown on the main PC
        module.settings.child('actuator_settings', 'tau').setValue(35)
        wait_until(lambda: client['tau'] == 35, 10, 'the edit to reach the main PC', qt=True)
        # edited on the main PC -> applied in the module (and so in its plugin), not echoed back
        client.child('tau').setValue(70)
        plugin.commit_settings(client.child('tau'))
        wait_until(lambda: module.settings['actuator_settings', 'tau'] == 70, 10, 'set_info in the module', qt=True)
        assert client['tau'] == 70
        # a setting the main PC cannot edit is refused with a message, the module unchanged
        status = StatusLog(plugin)
        host.apply_set_info(SetInfo(('actuator_settings', 'nothing'), '<nothing type="int">1</nothing>'))
        status.wait_for("client reports: set_info nothing ignored")
    finally:
        host.stop(thread)
        module.quit_fun()


def test_the_instruments_controller_group_is_labelled_and_its_sharing_settings_read_only(plugins: list) -> None:
    """The hosted module's Controller group (PyMoDAQ's Master/Slave sharing on the instrument PC) sat
    beside the TCPServer plugin's own, looking like a duplicate: it is titled as the instrument's, its
    Master/ID are read-only on the main PC and refused if set anyway; its axis stays editable."""
    plugin = actuator_plugin(plugins)
    module, host, thread = hosted('move', 'Mock', plugin.bridge.address[1])
    try:
        wait_connected(plugin)
        client = plugin.settings.child('settings_client')
        wait_until(lambda: client.children(), 10, 'the module settings', qt=True)
        controller = client.child('controller')
        assert controller.opts['title'] == CONTROLLER_TITLE != plugin.settings.child('controller').opts['title']
        assert controller.child('controller_status').readonly() and controller.child('controller_ID').readonly()
        assert not controller.child('axis').readonly()
        status = StatusLog(plugin)
        identifier = module.settings['actuator_settings', 'controller', 'controller_ID']
        host.apply_set_info(SetInfo(('actuator_settings', 'controller', 'controller_ID'),
                                    '<controller_ID type="int">4242</controller_ID>'))
        status.wait_for('set_info controller/controller_ID ignored: not an editable setting')
        assert module.settings['actuator_settings', 'controller', 'controller_ID'] == identifier
    finally:
        host.stop(thread)
        module.quit_fun()


def test_set_info_changes_what_the_hosted_detector_measures(plugins: list) -> None:
    plugin = detector_plugin(plugins, '1D')
    module, host, thread = hosted('viewer', 'DAQ1D/Mock', plugin.bridge.address[1],
                                  settings=[('Mock1/amp_noise', '0'), ('Mock2/amp_noise', '0')])
    try:
        wait_connected(plugin)
        wait_until(lambda: plugin.settings.child('settings_client').children(), 10, 'the settings', qt=True)
        before = grab_and_wait(plugin, timeout_ms=20000)[0].data[0].max()
        amp = plugin.settings.child('settings_client', 'Mock1', 'Amp')
        amp.setValue(int(amp.value()) * 3)
        plugin.commit_settings(amp)
        wait_until(lambda: module.settings['detector_settings', 'Mock1', 'Amp'] == amp.value(), 10, 'set_info',
                   qt=True)
        after = grab_and_wait(plugin, timeout_ms=20000)[0].data[0].max()
    finally:
        host.stop(thread)
        module.quit_fun()
    assert after == pytest.approx(3 * before, rel=0.05)


# -- listen mode (PyMoDAQ#246) ------------------------------------------------------------------------

def test_plugin_in_connect_mode_drives_a_listening_module(plugins: list, tmp_path: Path) -> None:
    port = free_port()
    process = module_process(tmp_path, 'move', 'Mock', '--listen', f'127.0.0.1:{port}', *FAST_STAGE)
    try:
        plugin = actuator_plugin(plugins, connection=CONNECT, socket_ip='127.0.0.1', port_id=port)
        wait_connected(plugin, timeout=60)
        assert move_abs_and_wait(plugin, 2.0, timeout_ms=20000).value() == pytest.approx(2.0, abs=MOCK_EPSILON)
    finally:
        stop_module(process, tmp_path)


def test_foreign_commander_drives_a_hosted_stage(tmp_path: Path) -> None:
    """A raw-socket program in the legacy dialect (docs/protocol.rst §2), as third-party software would write."""
    port = free_port()
    process = module_process(tmp_path, 'move', 'Mock', '--listen', f'127.0.0.1:{port}', '--dialect', 'legacy',
                             *FAST_STAGE)
    try:
        deadline_log = tmp_path / 'module.log'
        wait_until(lambda: 'listening on' in deadline_log.read_text(), 60, 'the module to listen')
        with socket.create_connection(('127.0.0.1', port), timeout=30) as sock:
            peer = LegacyPeer(sock)
            assert peer.string() == 'ACTUATOR'
            assert peer.string() == 'Infos' and '<actuator_settings' in peer.string()
            peer.send_string('move_abs')
            peer.send_scalar(4.5)
            peer.until('move_done')  # position_is while moving, Info status lines
            assert peer.scalar() == pytest.approx(4.5, abs=MOCK_EPSILON)
            peer.send_string('check_position')
            peer.until('position_is')
            assert peer.scalar() == pytest.approx(4.5, abs=MOCK_EPSILON)
            peer.send_string('Quit')
    finally:
        stop_module(process, tmp_path)


def test_installed_plugins_lists_what_the_dashboard_lists() -> None:
    plugins = installed_plugins()
    assert 'Mock' in plugins['move'] and 'DAQND/Mock' in plugins['viewer']


def test_settings_added_by_the_module_and_its_errors_reach_the_main_pc(plugins: list) -> None:
    import logging
    plugin = detector_plugin(plugins, '0D')
    status = StatusLog(plugin)
    module, host, thread = hosted('viewer', 'DAQ0D/Mock', plugin.bridge.address[1])
    try:
        wait_connected(plugin)
        client = plugin.settings.child('settings_client')
        wait_until(lambda: client.children(), 10, 'the module settings', qt=True)
        # a plugin that adds a setting (e.g. once it knows its hardware): the main PC gets it
        module.settings.child('detector_settings').addChild(
            {'title': 'Gain:', 'name': 'gain', 'type': 'float', 'value': 2.5})
        wait_until(lambda: 'gain' in [c.name() for c in client.children()], 10, 'the added setting', qt=True)
        assert client['gain'] == 2.5
        module.settings.child('detector_settings', 'gain').remove()
        wait_until(lambda: 'gain' not in [c.name() for c in client.children()], 10, 'the removal', qt=True)
        # an error logged by PyMoDAQ or the hosted plugin shows in the plugin status
        logging.getLogger('pymodaq.daq_viewer.Mock').error('the camera overheated')
        assert 'the camera overheated' in status.wait_for('client reports: pymodaq.daq_viewer.Mock')
    finally:
        host.stop(thread)
        module.quit_fun()


def test_hosted_stage_over_mutual_tls(plugins: list, tmp_path: Path) -> None:
    pytest.importorskip('cryptography')
    from tcpbridge.tools.cert import make_pki
    lab = make_pki(tmp_path / 'pki', ['127.0.0.1'], ['instrument'])
    cert, key = lab.clients[0]
    plugin = actuator_plugin(plugins, tls_cert=str(lab.server_cert), tls_key=str(lab.server_key),
                             tls_client_ca=str(lab.ca))
    process = module_process(tmp_path, 'move', 'Mock', '--port', str(plugin.bridge.address[1]), '--tls-ca',
                             str(lab.ca), '--tls-cert', str(cert), '--tls-key', str(key), *FAST_STAGE)
    try:
        wait_connected(plugin, timeout=60)
        assert move_abs_and_wait(plugin, 0.75, timeout_ms=20000).value() == pytest.approx(0.75, abs=MOCK_EPSILON)
    finally:
        stop_module(process, tmp_path)


def test_the_module_window_says_whether_and_where_it_is_bridged(plugins: list) -> None:
    """``tcpbridge module --gui``: the title of the module's own window (PyMoDAQ's standalone DAQ_Move
    window, offscreen) follows the link: waiting, connected and how, then disconnected and why."""
    from pymodaq.utils.gui_utils.loader_utils import create_load_daq_move

    from pymodaq_plugins_tcpbridge.apps.module import show_link

    qt_app()
    plugin = actuator_plugin(plugins)
    port = plugin.bridge.address[1]
    window, module = create_load_daq_move('Stage')
    module.actuator = 'Mock'
    initialise(module, 30)
    host = ActuatorHost(module, Endpoint('127.0.0.1', port), 20)
    show_link(window.mainwindow, host)
    assert window.mainwindow.windowTitle().endswith(f'bridged to 127.0.0.1:{port}: waiting (not connected yet)')
    host.attach()
    wait_until(lambda: host.ready, 20, 'the module position', qt=True)
    thread = host.start()
    try:
        wait_until(lambda: window.mainwindow.windowTitle().endswith(
            f'bridged to 127.0.0.1:{port}: connected (accepted, in control)'), 20, 'the title: connected', qt=True)
        # said inside the window too (a title bar is not in every desktop): the status bar's label
        labels = [label.text() for label in window.mainwindow.statusBar().findChildren(QLabel)]
        assert f'bridged to 127.0.0.1:{port}: connected (accepted, in control)' in labels, labels
        plugin.close()  # the main PC's plugin goes away
        wait_until(lambda: f'bridged to 127.0.0.1:{port}: disconnected (' in window.mainwindow.windowTitle(),
                   20, 'the title: disconnected', qt=True)
    finally:
        host.stop(thread)
        module.quit_fun()
        window.mainwindow.close()


def test_a_link_lost_mid_move_costs_a_pause_and_the_hosted_stage_ends_the_move_once(plugins: list,
                                                                                    tmp_path: Path) -> None:
    """Issue 26, item 6: the link between the main PC and ``tcpbridge module`` breaks during a move (the
    relay in between is killed: a switch, a cable) and comes back.  The plugin keeps the move and sends
    it again as ``move_abs`` to the same absolute target once the module is back; the hosted stage ends
    there, and the plugin's move ends once, with the module's ``move_done``."""
    from pymodaq.utils.data import DataActuator

    from tcpbridge.commands import ClientProcess

    plugin = actuator_plugin(plugins, reconnect_wait=60)
    relay_port = free_port()
    relay_args = ['monitor', '--listen', str(relay_port), '--to', f'127.0.0.1:{plugin.bridge.address[1]}']
    relay = ClientProcess(relay_args, tmp_path / 'relay-1.log')
    process = module_process(tmp_path, 'move', 'Mock', '--port', str(relay_port), '--axis', 'Y',
                             '--set', 'tau=1500')  # a move of a few seconds
    done: list = []
    try:
        wait_connected(plugin, timeout=60)
        wait_until(lambda: plugin.axis_unit, 10, 'the axis units', qt=True)
        status = StatusLog(plugin)
        plugin.move_done_signal.connect(done.append)
        plugin.move_is_done = False
        plugin.move_abs(DataActuator(data=4.0, units=plugin.axis_unit))
        wait_until(lambda: 0.2 < plugin.current_value.value() < 3.5, 20, 'the stage on its way', qt=True)
        relay.process.kill()  # the link breaks mid-move
        relay.process.wait(10)
        relay.stop()
        status.wait_for('lost during move_abs', 20)
        assert not done
        relay = ClientProcess(relay_args, tmp_path / 'relay-2.log')  # the link is back
        status.wait_for('sent again', 30)
        wait_until(lambda: done, 60, 'the end of the move', qt=True)
    finally:
        relay.stop()
        output = stop_module(process, tmp_path)
    assert len(done) == 1 and done[0].value() == pytest.approx(4.0, abs=MOCK_EPSILON), done
    moves = [line for line in output.splitlines() if 'move_abs 4' in line]
    assert len(moves) == 2, output  # the move, then its replay: both to the same absolute target,
    assert 'move_rel' not in output  # so a move the stage finished meanwhile is not made twice
