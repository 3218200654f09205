"""``tcpbridge serve``: a TCPServer plugin in a real PyMoDAQ 5 DAQ_Move / DAQ_Viewer without a dashboard,
on the main PC, optionally in PyMoDAQ's own LECO actor mode.

The module is PyMoDAQ's (polling, units, the plugin's settings and status), with our TCPServer plugin
selected: remote clients of the bridge (LabVIEW, C, Python) connect to it as usual.  With a LECO name
the module also signs in to a LECO Coordinator through PyMoDAQ's own actor implementation
(``LECOComponentMixin.connect_leco``: the module's "LECO options"): PyMoDAQ's ``LECODirector``
plugins and pyleco scripts then drive the bridged instrument (moves, positions, snaps, grabs, its
settings), while its data keep the bridge's speed on the TCP side.  With no Coordinator reachable on
this PC, one is started in this process (pyleco's ``Coordinator``) and its address printed.

Run through the ``tcpbridge serve`` command, which prepares Qt and PyMoDAQ's folders before importing
this module.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from pymodaq.control_modules.thread_commands import ThreadStatus
from pymodaq.utils.leco.pymodaq_listener import LECOCommands
from pymodaq_gui.parameter import ioxml
from pymodaq_gui.parameter.utils import ParameterWithPath
from pymodaq_gui.qt_utils import mkQApp
from pymodaq_utils.utils import ThreadCommand
from qtpy.QtCore import QObject, Slot
from qtpy.QtWidgets import QApplication

from .module import ModuleError, close, initialise, set_from_text
from .qt_loop import EXIT_INTERRUPTED, INTERRUPTED, handle_interrupts, run_until

log = logging.getLogger('tcpbridge.serve')

#: our plugin, as PyMoDAQ lists it
PLUGIN = 'TCPServer'
#: the group of a LECODirector plugin that mirrors the actor's hardware settings
MIRROR_GROUP = 'settings_client'
#: seconds to wait for a Coordinator to answer a connection (reachability check)
COORDINATOR_PROBE_S = 1.0


@dataclass
class ServeOptions:
    """What ``tcpbridge serve`` was asked for (see ``tcpbridge serve --help``)."""

    kind: str                                   # 'move' or 'viewer'
    daq_type: str = 'DAQ2D'                     # viewer: DAQ0D, DAQ1D, DAQ2D or DAQND
    title: str = ''
    settings: List[Tuple[str, str]] = field(default_factory=list)  # plugin settings (path 'a/b', value text)
    leco_name: str = ''                         # '' : no LECO
    coordinator: Tuple[str, int] = ('localhost', 12300)
    timeout: float = 60.0


class EmbeddedCoordinator:
    """pyleco's Coordinator routing in a thread of this process, on ``port`` of every interface."""

    def __init__(self, host: str, port: int) -> None:
        from pyleco.coordinators.coordinator import Coordinator
        self._coordinator = Coordinator(host=host, port=port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._coordinator.routing, kwargs={'stop_event': self._stop},
                                        name='tcpbridge-leco-coordinator', daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop routing and release the port."""
        self._stop.set()
        self._thread.join(5.0)
        self._coordinator.close()


def coordinator_reachable(host: str, port: int) -> bool:
    """True if something accepts TCP connections on ``host:port`` (a Coordinator, we assume)."""
    try:
        with socket.create_connection((host, port), timeout=COORDINATOR_PROBE_S):
            return True
    except OSError:
        return False


def ensure_coordinator(host: str, port: int) -> Optional[EmbeddedCoordinator]:
    """None if a Coordinator answers on ``host:port``; else, if ``host`` is this PC, one started here.

    Raises:
        ModuleError: no Coordinator at a remote ``host``, or the port cannot be bound.
    """
    if coordinator_reachable(host, port):
        log.info('LECO coordinator found on %s:%d', host, port)
        return None
    if host not in ('localhost', '127.0.0.1', '::1', '0.0.0.0', ''):
        raise ModuleError(f'no LECO coordinator answers on {host}:{port} (start one there: '
                          'python -m pyleco.coordinators.coordinator)')
    try:
        embedded = EmbeddedCoordinator(socket.gethostname(), port)
    except Exception as error:  # zmq.ZMQError: address in use...
        raise ModuleError(f'cannot start a LECO coordinator on port {port}: {error}') from None
    log.info('started a LECO coordinator in this process on %s:%d (embedded)', socket.gethostname(), port)
    return embedded


def create_served_module(options: ServeOptions) -> Any:
    """The DAQ_Move / DAQ_Viewer with the TCPServer plugin selected and its settings set (not
    initialised).

    Raises:
        ModuleError: a ``--set`` path or value the plugin does not take.
    """
    title = options.title or (f'{PLUGIN} {options.kind}' if options.kind == 'move' else f'{PLUGIN} {options.daq_type}')
    if options.kind == 'move':
        from pymodaq.control_modules.daq_move import DAQ_Move
        module = DAQ_Move(None, title=title)
        module.actuator = PLUGIN
    else:
        from pymodaq.control_modules.daq_viewer import DAQ_Viewer
        module = DAQ_Viewer(None, title=title, daq_type=options.daq_type)
        module.detector = PLUGIN
    for path, text in options.settings:
        set_from_text(module, path, text)
    return module


def bridge_of(module: Any) -> Any:
    """The plugin's BridgeServer (PyMoDAQ's ``controller`` of the plugin), None before the initialisation."""
    return module.controller_and_thread.controller if module.controller_and_thread is not None else None


def join_leco(module: Any, name: str, host: str, port: int, timeout: float) -> None:
    """Put ``module`` in PyMoDAQ's LECO actor mode under ``name`` on the Coordinator ``host:port``.

    Raises:
        ModuleError: it did not sign in within ``timeout`` s.
    """
    leco = module.settings.child('main_settings', 'leco')
    leco.child('leco_name').setValue(name)
    leco.child('host').setValue(host)
    leco.child('port').setValue(port)
    module.connect_leco(True)
    if not run_until(lambda: leco['leco_connected'], time.monotonic() + timeout):
        raise ModuleError('interrupted' if INTERRUPTED.is_set() else
                          f'the module did not sign in to the LECO coordinator {host}:{port} within {timeout:g} s')


class LecoSettingsSync(QObject):
    """Keeps a LECO director's copy of a module's settings and the module's settings equal, where
    PyMoDAQ 5.3.8's actor does not:

    * a director's edit (``LECOCommands.SET_INFO`` from the module's listener, a ``ParameterWithPath``)
      is received by the actor but handled by no module's ``process_leco_commands``: the edit is
      dropped; :meth:`apply` sets it in the module, which passes it on to the plugin (and the plugin to
      the bridge client);
    * a change made by the plugin (``ThreadStatus.UPDATE_SETTINGS``: here, the bridge client changed
      one of its settings, or a new client brought its own) is shown in the module with the module's
      tree signal disconnected, so the actor's ``SEND_INFO`` never goes out; :meth:`forward` sends it
      (a value), or the whole tree again (settings added or removed), as ``GET_SETTINGS`` would.

    The module's own edits still reach the director through PyMoDAQ (``value_changed``).  Created in
    the Qt thread, so that the listener's signal is queued to it (the settings tree is the Qt thread's).
    """

    def __init__(self, module: Any) -> None:
        super().__init__()
        self._module = module
        module._leco_client.cmd_signal.connect(self.apply)
        module.custom_sig.connect(self.forward)

    @Slot(object)
    def forward(self, status: Any) -> None:
        """Qt slot: a status the module re-emits; sends the plugin's settings changes to the director."""
        module = self._module
        if status.command != ThreadStatus.UPDATE_SETTINGS or \
                not module.settings['main_settings', 'leco', 'leco_connected']:
            return
        path, _, change = status.attribute[:3]
        if change == 'value':
            param = module.settings.child(module._hw_settings_name, *path)
            module._leco_commands_signal.emit(ThreadCommand(
                LECOCommands.SEND_INFO, ParameterWithPath(param, [module._hw_settings_name, *path])))
        elif change in ('childAdded', 'parent'):
            xml = ioxml.parameter_to_xml_string(module.settings.child(module._hw_settings_name))
            module._leco_commands_signal.emit(ThreadCommand(LECOCommands.SET_DIRECTOR_SETTINGS, xml))

    @Slot(object)
    def apply(self, status: Any) -> None:
        """Qt slot: one command of the module's LECO listener; acts on ``SET_INFO`` only."""
        if status.command != LECOCommands.SET_INFO:
            return
        edit = status.attribute
        root = self._module.settings.child(self._module._hw_settings_name)
        # PyMoDAQ's GenericDirector.set_info sends the path below its own tree's hardware settings: its
        # mirror of ours ('settings_client') then our path; a path outside the mirror is one of the
        # director's own settings whose name is also in the mirror (its units echoing ours): not ours
        path = [str(name) for name in edit.path]
        if len(path) < 2 or path[0] != MIRROR_GROUP:
            log.debug('LECO director setting %s is its own, not the module\'s', '/'.join(path))
            return
        path = path[1:]
        try:
            param = root.child(*path)
        except KeyError:
            param = None
        if param is None:
            log.warning('LECO director edit of %s ignored: no such setting', '/'.join(path))
            return
        if param.value() != edit.parameter.value():
            param.setValue(edit.parameter.value())  # the module passes it on to the plugin
            log.info('LECO director set %s = %r', '/'.join(path), edit.parameter.value())


def run(options: ServeOptions) -> int:
    """Run ``tcpbridge serve`` until Ctrl+C / SIGTERM; returns the exit code: 0 after a requested
    stop, 1 when the module cannot start."""
    app = mkQApp('tcpbridge serve')
    heartbeat = handle_interrupts()  # noqa: F841 (kept alive while the command runs)
    coordinator: Optional[EmbeddedCoordinator] = None
    module = None
    try:
        module = create_served_module(options)
        initialise(module, options.timeout)  # the plugin keeps its settings (set again, a port would restart it)
        bridge = bridge_of(module)
        host, port = bridge.address if bridge is not None else ('?', 0)
        mode = 'connecting to' if bridge is not None and bridge.dial else 'listening on'
        log.info('%s %s with the TCPServer plugin: %s %s:%s', 'DAQ_Move' if options.kind == 'move' else 'DAQ_Viewer',
                 module.title, mode, host, port)
        if options.leco_name:
            coordinator = ensure_coordinator(*options.coordinator)
            join_leco(module, options.leco_name, *options.coordinator, options.timeout)
            sync = LecoSettingsSync(module)  # noqa: F841 (kept alive while the command runs)
            log.info('LECO actor %r on the coordinator %s:%d', options.leco_name, *options.coordinator)
        if not INTERRUPTED.is_set():
            app.exec()
        log.info('stopping')
        return 0
    except ModuleError as error:
        log.error('%s', error)
        return EXIT_INTERRUPTED if INTERRUPTED.is_set() else 1
    finally:
        if module is not None:
            if options.leco_name:
                module.connect_leco(False)
            close(module)
            QApplication.processEvents()
        if coordinator is not None:
            coordinator.close()
