"""``tcpbridge serve``: a TCPServer plugin in a real PyMoDAQ 5 DAQ_Move / DAQ_Viewer without a dashboard,
on the main PC, optionally in PyMoDAQ's own LECO actor mode.

The module is PyMoDAQ's (polling, units, the plugin's settings and status), with our TCPServer plugin
selected: remote clients of the bridge (LabVIEW, C, Python) connect to it as usual.  With a LECO name
the module also signs in to a LECO Coordinator through PyMoDAQ's own actor implementation
(``LECOComponentMixin.connect_leco``: the module's "LECO options"): PyMoDAQ's ``LECODirector``
plugins and pyleco scripts then drive the bridged instrument (moves, positions, snaps, grabs, its
settings), while its data keep the bridge's speed on the TCP side.  With no Coordinator reachable on
this PC, one is started in this process (pyleco's ``Coordinator``) and its address printed.

With ``count`` above 1 the process hosts a group of identical modules (a group of instruments, one
client each): ports ``port``, ``port + 1``... (0: a free port each), titles and LECO names numbered
from 1.  They share the process's interpreter lock: see docs/guide/streaming.rst, *Many instruments in
one process*, for what a group costs and when to split it over processes.

Run through the ``tcpbridge serve`` command, which prepares Qt and PyMoDAQ's folders before importing
this module.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from pymodaq_gui.qt_utils import mkQApp
from qtpy.QtWidgets import QApplication

from .leco_actor import LecoActor
from .module import ModuleError, close, initialise, set_from_text
from .qt_loop import EXIT_INTERRUPTED, INTERRUPTED, handle_interrupts

log = logging.getLogger('tcpbridge.serve')

#: our plugin, as PyMoDAQ lists it
PLUGIN = 'TCPServer'


@dataclass
class ServeOptions:
    """What ``tcpbridge serve`` was asked for (see ``tcpbridge serve --help``)."""

    kind: str                                   # 'move' or 'viewer'
    daq_type: str = 'DAQ2D'                     # viewer: DAQ0D, DAQ1D, DAQ2D or DAQND
    title: str = ''
    port: Optional[int] = None                  # where to listen (0: a free port); None: the configured one
    settings: List[Tuple[str, str]] = field(default_factory=list)  # plugin settings (path 'a/b', value text)
    leco_name: str = ''                         # '' : no LECO
    coordinator: Tuple[str, int] = ('localhost', 12300)
    timeout: float = 60.0
    count: int = 1                              # identical modules in this process


def numbered(text: str, options: ServeOptions, index: int, separator: str = '') -> str:
    """``text`` for the module ``index`` (0-based) of the group: ``text`` alone, or followed by
    ``separator`` and ``index + 1`` when the group has several modules."""
    return text if options.count == 1 else f'{text}{separator}{index + 1}'


def create_served_module(options: ServeOptions, index: int = 0) -> Any:
    """Module ``index`` (0-based) of the group: a DAQ_Move / DAQ_Viewer with the TCPServer plugin
    selected and its settings set, listening on ``options.port + index`` (0: a free port), not
    initialised.

    Raises:
        ModuleError: a ``--set`` path or value the plugin does not take.
    """
    title = options.title or (f'{PLUGIN} {options.kind}' if options.kind == 'move' else f'{PLUGIN} {options.daq_type}')
    title = numbered(title, options, index, ' ')
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
    if options.port is not None:
        set_from_text(module, 'port_id', str(options.port + index if options.port else 0))
    return module


def bridge_of(module: Any) -> Any:
    """The plugin's BridgeServer (PyMoDAQ's ``controller`` of the plugin), None before the initialisation."""
    return module.controller_and_thread.controller if module.controller_and_thread is not None else None


def run(options: ServeOptions) -> int:
    """Run ``tcpbridge serve`` until Ctrl+C / SIGTERM; returns the exit code: 0 after a requested
    stop, 1 when a module cannot start."""
    app = mkQApp('tcpbridge serve')
    heartbeat = handle_interrupts()  # noqa: F841 (kept alive while the command runs)
    actors: List[LecoActor] = []
    modules: List[Any] = []
    try:
        for index in range(options.count):
            module = create_served_module(options, index)
            modules.append(module)
            initialise(module, options.timeout)  # the plugin keeps its settings (set again, a port would restart it)
            bridge = bridge_of(module)
            host, port = bridge.address if bridge is not None else ('?', 0)
            mode = 'connecting to' if bridge is not None and bridge.dial else 'listening on'
            log.info('%s %s with the TCPServer plugin: %s %s:%s', 'DAQ_Move' if options.kind == 'move' else
                     'DAQ_Viewer', module.title, mode, host, port)
            if options.leco_name:
                actors.append(LecoActor(module, numbered(options.leco_name, options, index), options.coordinator,
                                        options.timeout))
        if not INTERRUPTED.is_set():
            app.exec()
        log.info('stopping')
        return 0
    except ModuleError as error:
        log.error('%s', error)
        return EXIT_INTERRUPTED if INTERRUPTED.is_set() else 1
    finally:
        for actor in reversed(actors):  # the first one may route the others' messages (embedded Coordinator)
            actor.close()
        if modules:
            close(*modules)
            QApplication.processEvents()
