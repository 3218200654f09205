"""Screenshots of a standalone DAQ_Viewer (2D) and DAQ_Move with the TCPServer plugins, in each state a
user meets: listening, client connected, grabbing / moving, a live Grab, client gone, error, client
lost in the middle of a move; and ``tcpbridge module --gui`` with the main PC's DAQ_Move it is
bridged to.  Offscreen Qt: run
``python docs/screenshots/make_screenshots.py [--out DIR]`` (the PNGs land beside this script by
default); ``tests/plugins/test_screenshots.py`` runs it and checks what each image must show.

The windows keep PyMoDAQ's default layout (no panel widened by code): what a user sees is the colour
of the module's name in its toolbar and, for DAQ_Move, its status bar.  Each state is also written to
``states.json`` with the status line, summary, LED, name colour and status bar shown at that moment,
so that a test can check what the pictures show without looking at them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
os.environ.setdefault('QT_LOGGING_RULES', 'qt.qpa.*=false')
HERE = Path(__file__).parent

from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-screenshots-')))

from pymodaq.utils.gui_utils.loader_utils import create_load_daq_move, create_load_daq_viewer  # noqa: E402
from pymodaq_gui.qt_utils import mkQApp  # noqa: E402
from qtpy.QtCore import QCoreApplication, QEvent  # noqa: E402
from qtpy.QtWidgets import QApplication, QLabel  # noqa: E402

from tcpbridge.commands import ClientProcess  # noqa: E402


def wait(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out waiting for {what}')
        QApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    """Let Qt draw what the last events changed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


class Recorder:
    """Saves the window and what it shows (status line, LED) for each state."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.states: Dict[str, dict] = {}

    def shot(self, name: str, window, module, group: str) -> None:
        settle()
        window.grab().save(str(self.out / f'{name}.png'))
        led = module.settings.child(group, 'connected')
        self.states[name] = {'status': module.settings[group, 'status'], 'led_on': bool(led.value()),
                             'led_enabled': not led.opts.get('readonly', False) and module.settings_tree.isEnabled(),
                             'client_settings': module.settings.child(group, 'settings_client').opts['title'],
                             'summary': module.settings[group, 'summary'],
                             'name_colour': name_colour(module), 'status_bar': module.ui.statusbar.currentMessage()}


    def window_shot(self, name: str, window) -> None:
        """A window that is not a TCPServer module's (``tcpbridge module --gui``): its title and the
        labels of its status bar."""
        settle()
        window.grab().save(str(self.out / f'{name}.png'))
        self.states[name] = {'title': window.windowTitle(),
                             'status_bar_labels': [label.text() for label in window.statusBar().findChildren(QLabel)
                                                   if label.text()]}


def name_colour(module) -> str:
    """The colour of the module's name in its toolbar, ``#rrggbb`` ('' if PyMoDAQ's default)."""
    style = module.ui.get_action('name').widget.styleSheet()
    return '#' + style.split('#', 1)[1][-6:] if '#' in style else ''


def plugin_of(module):
    return module.controller_and_thread.controller  # the plugin's BridgeServer


def module_states(recorder: Recorder, logs: Path, prefix: str, module, window, group: str,
                  client_args: List[str], act: Callable[[], None], acted: str, done_signal,
                  live: Optional[Tuple[Callable[[], None], Callable[[], None]]] = None) -> None:
    """Initialise ``module`` (a TCPServer plugin set up beforehand), then walk it through the states:
    listening, client connected, after ``act`` (waiting for ``done_signal``), client gone, and ``act``
    again without a client (an error)."""
    module.settings.child(group, 'port_id').setValue(0)
    inits: List[bool] = []
    module.init_signal.connect(inits.append)
    module.init_hardware_ui(True)
    wait(lambda: inits, 30, f'{prefix} to initialise')
    if prefix == 'viewer':  # one click a user makes; DAQ_Move's panel stays closed, as by default
        module.ui.show_settings(True)
    wait(lambda: plugin_of(module) is not None, 10, 'the engine')
    recorder.shot(f'{prefix}-1-listening', window, module, group)
    port = str(plugin_of(module).address[1])
    client = ClientProcess([*client_args, '--port', port], logs / f'{prefix}-client.log')
    try:  # the dialect is known once the client answered the probe (actuator) or connected (grabber)
        wait(lambda: plugin_of(module).in_control is not None and
             (plugin_of(module).in_control.dialect or client_args[0] == 'grabber'), 20, 'the client')
        recorder.shot(f'{prefix}-2-client-connected', window, module, group)
        results: list = []
        done_signal.connect(results.append)
        act()
        wait(lambda: results, 20, acted)
        recorder.shot(f'{prefix}-3-{acted}', window, module, group)
        if live is not None:  # (start, stop) of a live Grab: PyMoDAQ disables the settings tree meanwhile
            start, stop = live
            start()
            wait(lambda: len(results) >= 5, 20, 'the live grab')
            recorder.shot(f'{prefix}-6-live-grab', window, module, group)
            stop()
            settle(0.5)
    finally:
        client.stop()
    wait(lambda: plugin_of(module).in_control is None, 20, 'the client to leave')
    recorder.shot(f'{prefix}-4-client-gone', window, module, group)
    act()
    settle(0.5)
    recorder.shot(f'{prefix}-5-{"grab" if prefix == "viewer" else "move"}-without-client', window, module, group)
    module.quit_fun()
    close_now(window)


def close_now(window) -> None:
    """Close and delete ``window`` now: left to the interpreter's exit, PyQt destroyed PyMoDAQ's windows
    in no set order and crashed about one run in ten (segmentation fault after the last line)."""
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.processEvents()


def viewer_states(recorder: Recorder, logs: Path) -> None:
    shared_ui, viewer = create_load_daq_viewer('Camera')
    shared_ui.mainwindow.resize(1400, 850)
    shared_ui.show()
    viewer.daq_type = 'DAQ2D'
    viewer.detector = 'TCPServer'
    module_states(recorder, logs, 'viewer', viewer, shared_ui.mainwindow, 'detector_settings',
                  ['grabber', '--dim', '2D'], viewer.snap, 'grabbed', viewer.grab_done_signal,
                  live=(viewer.grab, viewer.stop_grab))


def move_states(recorder: Recorder, logs: Path) -> None:
    shared_ui, move = create_load_daq_move('Stage')
    shared_ui.mainwindow.resize(1100, 700)
    shared_ui.show()
    move.actuator = 'TCPServer'
    targets = iter((3.0, 1.0))
    module_states(recorder, logs, 'move', move, shared_ui.mainwindow, 'actuator_settings',
                  ['actuator', '--units', 'mm', '--speed', '5'], lambda: move.move_abs(next(targets)), 'moved',
                  move.move_done_signal)


def lost_mid_move_state(recorder: Recorder, logs: Path) -> None:
    """DAQ_Move (panel closed) whose client is killed in the middle of a slow move: the move waits for
    a client (its reconnect wait), as the status bar and the name say."""
    shared_ui, move = create_load_daq_move('Stage')
    shared_ui.mainwindow.resize(1100, 700)
    shared_ui.show()
    move.actuator = 'TCPServer'
    move.settings.child('actuator_settings', 'port_id').setValue(0)
    inits: List[bool] = []
    move.init_signal.connect(inits.append)
    move.init_hardware_ui(True)
    wait(lambda: inits, 30, 'the stage to initialise')
    port = str(plugin_of(move).address[1])
    client = ClientProcess(['actuator', '--units', 'mm', '--speed', '0.5', '--port', port], logs / 'slow-stage.log')
    try:
        wait(lambda: plugin_of(move).in_control is not None and plugin_of(move).in_control.dialect, 20, 'the stage')
        move.move_abs(5.0)
        settle(0.5)  # moving
        client.process.kill()
        client.process.wait(10)
        wait(lambda: 'waiting up to' in move.settings['actuator_settings', 'status'], 20, 'the wait for a client')
        recorder.shot('move-6-lost-mid-move', shared_ui.mainwindow, move, 'actuator_settings')
    finally:
        client.stop()
        move.quit_fun()
        close_now(shared_ui.mainwindow)


def module_gui_states(recorder: Recorder) -> None:
    """``tcpbridge module move Mock --gui`` on the instrument PC (its window made as the command makes
    it, in this process) bridged to a DAQ_Move_TCPServer on the main PC: both windows connected after
    a move, then the instrument's once the main PC's plugin is gone."""
    from pymodaq_plugins_tcpbridge.apps.actuator_host import ActuatorHost
    from pymodaq_plugins_tcpbridge.apps.module import initialise, show_link
    from pymodaq_plugins_tcpbridge.apps.module_host import Endpoint

    main_ui, main = create_load_daq_move('Stage')
    main_ui.mainwindow.resize(1100, 760)
    main_ui.show()
    main.actuator = 'TCPServer'
    main.settings.child('actuator_settings', 'port_id').setValue(0)
    initialise(main, 30)
    main.ui.show_settings(True)  # where the instrument's mirrored settings are
    port = plugin_of(main).address[1]
    instrument_ui, instrument = create_load_daq_move('Mock stage')
    instrument_ui.mainwindow.resize(1100, 420)
    instrument_ui.show()
    instrument.actuator = 'Mock'
    instrument.settings.child('actuator_settings', 'tau').setValue(20)  # a fast stage: the move ends at once
    initialise(instrument, 30)
    host = ActuatorHost(instrument, Endpoint('127.0.0.1', port), 20)
    show_link(instrument_ui.mainwindow, host)
    host.attach()
    wait(lambda: host.ready, 20, 'the hosted module')
    thread = host.start()
    try:
        wait(lambda: plugin_of(main).in_control is not None and plugin_of(main).in_control.dialect, 20, 'the link')
        wait(lambda: main.settings.child('actuator_settings', 'settings_client').children(), 10, 'the mirror')
        moved: list = []
        main.move_done_signal.connect(moved.append)
        main.move_abs(2.0)
        wait(lambda: moved, 20, 'the move')
        recorder.window_shot('module-1-instrument-connected', instrument_ui.mainwindow)
        recorder.shot('module-2-main-pc-connected', main_ui.mainwindow, main, 'actuator_settings')
        main.quit_fun()
        wait(lambda: 'disconnected' in instrument_ui.mainwindow.windowTitle(), 20, 'the instrument to see it')
        recorder.window_shot('module-3-instrument-main-pc-gone', instrument_ui.mainwindow)
    finally:
        host.stop(thread)
        instrument.quit_fun()
        close_now(instrument_ui.mainwindow)
        close_now(main_ui.mainwindow)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, default=HERE, help='folder of the PNG files and states.json')
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = mkQApp('tcpbridge screenshots')
    recorder = Recorder(args.out)
    logs = Path(tempfile.mkdtemp(prefix='tcpbridge-screenshots-logs-'))
    viewer_states(recorder, logs)
    move_states(recorder, logs)
    lost_mid_move_state(recorder, logs)
    module_gui_states(recorder)
    (args.out / 'states.json').write_text(json.dumps(recorder.states, indent=2))
    print(json.dumps(recorder.states, indent=2))
    app.processEvents()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
