"""``tcpbridge module``: run one PyMoDAQ 5 control module with an installed instrument plugin and bridge
it to a TCPServer plugin (see :mod:`.module_host`).  Run through the ``tcpbridge module`` command,
which prepares Qt and PyMoDAQ's folders before importing this module."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from pymodaq.utils.daq_utils import get_plugins
from pymodaq_gui.qt_utils import mkQApp
from qtpy.QtWidgets import QApplication, QLabel

from .actuator_host import ActuatorHost
from .module_host import Endpoint, HostError, ModuleHost
from .qt_loop import EXIT_INTERRUPTED, INTERRUPTED, handle_interrupts, process_events_for, run_until
from .viewer_host import ViewerHost

log = logging.getLogger('tcpbridge.module')

#: the module kinds, and the groups of the plugins each can host (as the dashboard lists them)
PLUGIN_GROUPS = {'move': ('daq_move',), 'viewer': ('daq_0Dviewer', 'daq_1Dviewer', 'daq_2Dviewer', 'daq_NDviewer')}
#: DAQ_Viewer types by plugin group
DAQ_TYPES = {'daq_0Dviewer': 'DAQ0D', 'daq_1Dviewer': 'DAQ1D', 'daq_2Dviewer': 'DAQ2D', 'daq_NDviewer': 'DAQND'}
#: seconds given to the module's hardware thread to act on a stop before the hardware is closed
STOP_GRACE_S = 0.3
#: the words ``--set`` takes for a boolean setting
BOOLEANS = {'true': True, 'false': False, '1': True, '0': False, 'yes': True, 'no': False, 'on': True, 'off': False}
#: our own plugins: hosting one would bridge a bridge
BRIDGE_PLUGINS = ('TCPServer',)


@dataclass
class ModuleOptions:
    """What ``tcpbridge module`` was asked for (see ``tcpbridge module --help``)."""

    kind: str                      # 'move' or 'viewer'
    plugin: str                    # 'Mock' (move) or 'DAQ2D/Mock' (viewer)
    endpoint: Endpoint
    axis: Optional[str] = None
    title: str = ''
    settings: List[Tuple[str, str]] = field(default_factory=list)  # (path 'a/b', value text) before and after init
    grab: bool = False
    gui: bool = False
    timeout: float = 60.0
    leco_name: str = ''                         # '' : no LECO
    coordinator: Tuple[str, int] = ('localhost', 12300)


def installed_plugins() -> Dict[str, List[str]]:
    """Instrument plugins as the dashboard lists them: ``{'move': ['Mock', ...], 'viewer':
    ['DAQ0D/Mock', ...]}`` (ours, the TCPServer plugins, left out)."""
    found: Dict[str, List[str]] = {}
    for kind, groups in PLUGIN_GROUPS.items():
        names = []
        for group in groups:
            prefix = f'{DAQ_TYPES[group]}/' if group in DAQ_TYPES else ''
            names += [prefix + p['name'] for p in get_plugins(group) if p['name'] not in BRIDGE_PLUGINS]
        found[kind] = names
    return found


def list_plugins() -> int:
    """Print the installed instrument plugins; exit code 0."""
    plugins = installed_plugins()
    print('actuators (tcpbridge module move NAME):')
    print(''.join(f'  {name}\n' for name in plugins['move']) or '  none installed\n', end='')
    print('detectors (tcpbridge module viewer DAQxD/NAME):')
    print(''.join(f'  {name}\n' for name in plugins['viewer']) or '  none installed\n', end='')
    return 0


class ModuleError(RuntimeError):
    """The module cannot be created or initialised as asked."""


def create_module(options: ModuleOptions) -> Tuple[Any, Any]:
    """The DAQ_Move / DAQ_Viewer with the plugin selected (not initialised), and PyMoDAQ's SharedUI
    holding its window (None
    when headless).

    Raises:
        ModuleError: the plugin is not installed, or ``options.plugin`` is malformed.
    """
    plugins = installed_plugins()[options.kind]
    if options.plugin not in plugins:
        raise ModuleError(f'no {"actuator" if options.kind == "move" else "detector"} plugin '
                          f'{options.plugin!r} installed; installed: {", ".join(plugins) or "none"} '
                          '(tcpbridge module --list)')
    title = options.title or options.plugin.rsplit('/', 1)[-1]
    window = None
    if options.kind == 'move':
        if options.gui:
            from pymodaq.utils.gui_utils.loader_utils import create_load_daq_move
            window, module = create_load_daq_move(title)  # PyMoDAQ's own standalone window
        else:
            from pymodaq.control_modules.daq_move import DAQ_Move
            module = DAQ_Move(None, title=title)
        module.actuator = options.plugin
        if options.axis is not None:
            if options.axis not in module.axis_names:
                raise ModuleError(f'{options.plugin} has no axis {options.axis!r}; its axes: '
                                  f'{", ".join(map(str, module.axis_names))}')
            module.axis_name = options.axis
    else:
        daq_type, name = options.plugin.split('/')
        if options.gui:
            from pymodaq.utils.gui_utils.loader_utils import create_load_daq_viewer
            window, module = create_load_daq_viewer(title)
            module.daq_type = daq_type
        else:
            from pymodaq.control_modules.daq_viewer import DAQ_Viewer
            module = DAQ_Viewer(None, title=title, daq_type=daq_type)
        module.detector = name
    for path, text in options.settings:
        set_from_text(module, path, text)
    if window is not None:
        window.show()
    return module, window


def set_from_text(module: Any, path: str, text: str) -> None:
    """Set the hardware setting at ``path`` (``'a/b'``, under ``actuator_settings`` /
    ``detector_settings``) from the command line's text, converted to the setting's type.

    Raises:
        ModuleError: no such setting, or the text does not convert.
    """
    root = module.settings.child(module._hw_settings_name)
    try:
        param = root.child(*path.split('/'))
    except Exception:
        names = ', '.join(child.name() for child in root.children())
        raise ModuleError(f'--set {path}: no such setting (top level: {names})') from None
    kind = param.type()
    try:
        if kind in ('bool', 'led', 'bool_push'):
            if text.lower() not in BOOLEANS:
                raise ValueError(f'{text!r} is not a boolean ({", ".join(BOOLEANS)})')
            value: Any = BOOLEANS[text.lower()]
        elif kind in ('int', 'float'):
            value = float(text) if kind == 'float' else int(text)
        elif kind == 'list':
            limits = param.opts.get('limits') or []
            choices = list(limits.values() if isinstance(limits, dict) else limits)
            value = next((c for c in choices if str(c) == text), None)
            if value is None:
                raise ValueError(f'choose among {", ".join(map(str, choices))}')
        else:
            value = text
    except ValueError as error:
        raise ModuleError(f'--set {path}={text}: {error}') from None
    param.setValue(value)


def initialise(module: Any, timeout: float) -> None:
    """Initialise the module's hardware (its plugin's ``ini_stage`` / ``ini_detector``).

    Raises:
        ModuleError: it failed, or did not finish within ``timeout`` s.
    """
    result: List[bool] = []
    module.init_signal.connect(result.append)
    module.init_hardware(True)
    if not run_until(lambda: bool(result), time.monotonic() + timeout):
        raise ModuleError('interrupted during the initialisation' if INTERRUPTED.is_set() else
                          f'the plugin did not finish its initialisation within {timeout:g} s')
    if not result[0]:
        raise ModuleError('the plugin failed to initialise (see its messages above)')


def show_link(main_window: Any, host: ModuleHost) -> None:
    """The module's window says at a glance whether and where it is bridged, in its title and in a
    label at the right of its status bar (a title is not seen in every desktop, nor in a screenshot):
    ``'bridged to HOST:PORT: connected (accepted, in control)'``, then ``waiting``, ``refused (the
    plugin's reason)`` or ``disconnected (why)`` as the link changes."""
    title = main_window.windowTitle()
    label = QLabel()
    main_window.statusBar().addPermanentWidget(label)

    def show(text: str) -> None:
        main_window.setWindowTitle(f'{title} - {text}')
        label.setText(text)
        label.setToolTip(text)

    host.on_link = show
    show(host.link_text('waiting', 'not connected yet'))


def close(*modules: Any) -> None:
    """Stop what the modules do and close their hardware.  A DAQ_Viewer still grabbing does not close
    (its hardware thread never gets to the close command): the grabs are stopped first."""
    for module in modules:
        module.stop_module()
    process_events_for(STOP_GRACE_S)  # the stops reach the hardware threads
    for module in modules:
        module.quit_fun()


def run(options: ModuleOptions) -> int:
    """Run ``tcpbridge module`` until Ctrl+C / SIGTERM (or the window is closed); returns the exit
    code: 0 after a requested stop, 1 when the module cannot start."""
    app = mkQApp('tcpbridge module')
    heartbeat = handle_interrupts()  # noqa: F841 (kept alive while the command runs)
    try:
        module, window = create_module(options)
    except ModuleError as error:
        log.error('%s', error)
        return 1
    host: Optional[ModuleHost] = None
    actor = None
    thread = None
    try:
        initialise(module, options.timeout)
        log.info('%s %s initialised', 'DAQ_Move' if options.kind == 'move' else 'DAQ_Viewer', options.plugin)
        for path, text in options.settings:  # again: a plugin's initialisation may set its own values
            set_from_text(module, path, text)
            log.info('--set %s=%s: applied before and after the initialisation', path, text)
        host = (ActuatorHost if options.kind == 'move' else ViewerHost)(module, options.endpoint, options.timeout)
        if window is not None:
            show_link(window.mainwindow, host)
        host.attach()
        if not run_until(lambda: host.ready, time.monotonic() + options.timeout):
            raise ModuleError('interrupted' if INTERRUPTED.is_set() else
                              f'the module did not report its position within {options.timeout:g} s')
        thread = host.start()
        if options.leco_name:  # LECO directors and scripts reach the module too (issue 30)
            from .leco_actor import LecoActor
            actor = LecoActor(module, options.leco_name, options.coordinator, options.timeout)
        if options.grab:
            module.grab_data(grab_state=True)  # live frames are pushed to the main PC while connected
        if window is not None:
            app.lastWindowClosed.connect(app.quit)
        if not INTERRUPTED.is_set():
            app.exec()
        log.info('stopping')
        return 0
    except (ModuleError, HostError) as error:
        log.error('%s', error)
        return EXIT_INTERRUPTED if INTERRUPTED.is_set() else 1
    finally:
        if actor is not None:
            actor.close()
        if host is not None:
            host.stop(thread)
        close(module)
        QApplication.processEvents()
        if window is not None:
            window.mainwindow.close()
