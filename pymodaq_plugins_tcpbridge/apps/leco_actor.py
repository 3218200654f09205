"""PyMoDAQ 5's own LECO actor mode for a module this package runs (``tcpbridge serve``, ``tcpbridge
module``): a Coordinator found or started here, the module signed in under a name, and the settings
kept equal between the module and LECO directors where PyMoDAQ 5.3.8's actor does not.

The actor is PyMoDAQ's (``LECOComponentMixin.connect_leco``, the module's "LECO options"); nothing of
its RPC methods is re-implemented.  See ``docs/guide/leco.rst``.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Optional, Tuple

from pymodaq.control_modules.thread_commands import ThreadStatus
from pymodaq.utils.leco.pymodaq_listener import LECOCommands
from pymodaq_gui.parameter import ioxml
from pymodaq_gui.parameter.utils import ParameterWithPath
from pymodaq_utils.utils import ThreadCommand
from qtpy.QtCore import QObject, Slot

from .module import ModuleError
from .qt_loop import INTERRUPTED, run_until

log = logging.getLogger('tcpbridge.leco')

#: the group of a LECODirector plugin that mirrors the actor's hardware settings
MIRROR_GROUP = 'settings_client'
#: seconds to wait for a Coordinator to answer a connection (reachability check)
COORDINATOR_PROBE_S = 1.0


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


class LecoActor:
    """``module`` in PyMoDAQ's LECO actor mode as ``name`` on the Coordinator ``coordinator`` (host,
    port), which is started in this process if none answers there and the host is this PC; the settings
    kept equal both ways (:class:`LecoSettingsSync`).  Create in the Qt thread, once the module is
    initialised; :meth:`close` signs out and stops an embedded Coordinator.

    Raises:
        ModuleError: no Coordinator and none can be started, or the module did not sign in within
            ``timeout`` s.
    """

    def __init__(self, module: Any, name: str, coordinator: Tuple[str, int], timeout: float) -> None:
        self._module = module
        self._embedded = ensure_coordinator(*coordinator)
        try:
            join_leco(module, name, *coordinator, timeout)
        except ModuleError:
            self._close_embedded()
            raise
        self._sync = LecoSettingsSync(module)
        log.info('LECO actor %r on the coordinator %s:%d', name, *coordinator)

    def close(self) -> None:
        """Sign out of the Coordinator; stop the embedded one, if any."""
        self._module.connect_leco(False)
        self._close_embedded()

    def _close_embedded(self) -> None:
        if self._embedded is not None:
            self._embedded.close()
            self._embedded = None
