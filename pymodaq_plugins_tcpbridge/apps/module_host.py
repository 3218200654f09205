"""``tcpbridge module``: a PyMoDAQ 5 control module on the instrument PC, bridged to a TCPServer plugin.

The public TCP/IP doc's first way ("install PyMoDAQ to control your hardware on the distant computer
... every parameter of the distant module will be exported on its server counterpart"), for PyMoDAQ 5,
whose modules lost their TCP client.  The real ``DAQ_Move`` / ``DAQ_Viewer`` runs here with any
installed instrument plugin (headless, or with its window), so polling, units, averaging and the
plugin's status behave as in the dashboard; a client of our library (:class:`tcpbridge.ActuatorClient`
/ :class:`tcpbridge.GrabberClient`) connects it as an ``ACTUATOR`` / ``GRABBER``:

* the module's hardware settings (``actuator_settings`` / ``detector_settings``) go out as ``Infos``
  (PyMoDAQ's own XML), again when the plugin adds or removes settings; an edit here goes out as
  ``Info_xml``; a ``set_info`` from the main PC is applied to the module, which passes it to the
  plugin (no echo back);
* ``move_abs`` / ``move_rel`` / ``move_home`` / ``stop_motion`` / position queries reach the module;
  positions are in the axis units, intermediate positions are reported, ``move_done`` ends a move;
* ``Send Data xD`` snaps the module (or takes the next frame of its running grab) and answers ``Done``
  with the DataToExport (names, axes, units, labels); frames of the module's own continuous grab are
  pushed (the latest one wins when the link is slower than the camera);
* the module's status lines go out as ``Info('status', ...)`` and errors logged by PyMoDAQ or the
  plugin as ``Info('error', ...)``, which the plugin shows in its status.

Threads: the module and its settings live in the Qt (main) thread; the client's connection thread
asks it to act through a queued signal (:class:`_Invoker`) and waits with a timeout; messages the
module produces are sent from one sender thread, so the Qt thread never waits on a socket.
"""
from __future__ import annotations

import logging
import ssl
import threading
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from pymodaq_gui.parameter import Parameter, ioxml
from qtpy.QtCore import QObject, QTimer, Signal

from tcpbridge import DEAD_LINK_S, BridgeClient
from tcpbridge.wire import Info, Infos, InfoXml, Message, SetInfo, parse_parameter_xml

log = logging.getLogger('tcpbridge.module')

#: PyMoDAQ's controller-sharing settings of the hosted module (Master/Slave, controller ID): they
#: concern the plugins of the instrument PC only, so the main PC sees them read-only, in a group
#: titled as the instrument's (the TCPServer plugin has a *Controller* group of its own)
INSTRUMENT_ONLY = (('controller', 'controller_status'), ('controller', 'controller_ID'))
CONTROLLER_TITLE = "Instrument PC's controller:"


class HostError(RuntimeError):
    """The hosted module did not do what was asked in time (init, a move, a snap)."""


@dataclass
class Endpoint:
    """Where the bridge goes: the TCPServer plugin's ``host:port``, or with ``listen`` the local
    address where the commander is awaited."""

    host: str
    port: int
    listen: bool = False
    dialect: str = 'pymodaq4'
    tls: Optional[ssl.SSLContext] = None  # see tcpbridge.endpoint_context
    secret: Optional[str] = None  # shared-secret authentication (the plugin's auth_secret)
    dead_link_s: float = DEAD_LINK_S  # see tcpbridge.BridgeClient


class _Invoker(QObject):
    """Runs callables in the thread it lives in (the Qt main thread): ``call.emit(fn)`` from any
    thread queues ``fn``.  An exception is logged, never raised into Qt."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run)

    @staticmethod
    def _run(function: Callable[[], None]) -> None:
        try:
            function()
        except Exception:
            log.exception('while running %s in the Qt thread', getattr(function, '__name__', function))


class Waiter:
    """One answer awaited by the connection thread from the Qt thread."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = None
        self.error = ''

    def resolve(self, value: Any = None, error: str = '') -> None:
        self.value, self.error = value, error
        self.event.set()

    def wait(self, timeout: float, what: str) -> Any:
        """The value; HostError after ``timeout`` s or if resolved with an error."""
        if not self.event.wait(timeout):
            raise HostError(f'{what}: no answer from the module within {timeout:g} s')
        if self.error:
            raise HostError(f'{what}: {self.error}')
        return self.value


class _ErrorForwarder(logging.Handler):
    """Errors logged by PyMoDAQ or the hosted plugin (loggers ``pymodaq.*``) → ``Info('error', ...)``."""

    def __init__(self, host: ModuleHost) -> None:
        super().__init__(logging.ERROR)
        self.host = host

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.host.send_later(Info('error', f'{record.name}: {record.getMessage()}'[:2000]))
        except Exception:  # a logging handler must never raise
            self.handleError(record)


class ModuleHost:
    """What both hosts share: the settings mirror, the status and errors, the sender thread.

    Args:
        module: the DAQ_Move / DAQ_Viewer, already initialised (its settings exported are then final).
        timeout: seconds the connection thread waits for the module (a move, a snap).

    Subclasses create :attr:`client` (then call :meth:`_connect_signals`).
    """

    hw_settings = ''
    client: BridgeClient

    def __init__(self, module: Any, timeout: float) -> None:
        self.module = module
        self.timeout = timeout
        #: called in the Qt thread with one line on the link to the main PC (:meth:`link_text`)
        self.on_link: Optional[Callable[[str], None]] = None
        self._invoker = _Invoker()
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix='tcpbridge-module-send')
        self._lock = threading.Lock()
        self._applying_set_info = False
        self._infos_scheduled = False
        self._settings_xml = self._xml_of_settings()
        self._errors = _ErrorForwarder(self)

    # -- life ---------------------------------------------------------------------------------------
    def attach(self) -> None:
        """Connect the module's signals (Qt thread); then wait until :attr:`ready`."""
        self.module.settings.sigTreeStateChanged.connect(self._on_tree_changed)
        self.module.status_sig.connect(self._on_status)
        logging.getLogger('pymodaq').addHandler(self._errors)
        self._connect_signals()

    @property
    def ready(self) -> bool:
        """True once the module told what the client must know first (e.g. the position)."""
        return True

    def start(self) -> threading.Thread:
        """Start the client's thread (after :meth:`attach`)."""
        return self.client.start()

    def stop(self, thread: Optional[threading.Thread] = None, timeout: float = 10.0) -> None:
        """Send ``Quit``, close the connection, and wait for the client's thread (Qt thread)."""
        logging.getLogger('pymodaq').removeHandler(self._errors)
        self._abandon_waits('the module is closing')
        self.client.stop()
        if thread is not None:
            thread.join(timeout)
        self._sender.shutdown(wait=True, cancel_futures=True)

    def _connect_signals(self) -> None:
        """Subclass hook: connect the module's own signals."""

    def _abandon_waits(self, reason: str) -> None:
        """Subclass hook: end every wait of the connection thread with ``reason``."""

    def link_text(self, state: str, detail: str) -> str:
        """One line on the link, e.g. ``'bridged to 192.168.1.10:6341: connected (accepted, in
        control)'``; ``state`` and ``detail`` as :meth:`~tcpbridge.BridgeClient.link_changed` gives them."""
        where = f'commander on {self.client.address}' if self.client.listen else self.client.address
        return f'bridged to {where}: {state} ({detail})'

    def link_changed(self, state: str, detail: str) -> None:
        """Any thread: the hosted client's link changed; :attr:`on_link` hears it in the Qt thread."""
        text = self.link_text(state, detail)
        if self.on_link is not None:
            on_link = self.on_link
            self.in_qt(lambda: on_link(text))

    # -- threads ------------------------------------------------------------------------------------
    def in_qt(self, function: Callable[[], None]) -> None:
        """Run ``function`` in the Qt thread (from any thread), without waiting."""
        self._invoker.call.emit(function)

    def send_later(self, message: Message) -> None:
        """Send ``message`` from the sender thread (any thread; dropped when not connected)."""
        self._submit(self._send, message)

    def _submit(self, function: Callable[..., None], *args: Any) -> None:
        try:
            self._sender.submit(function, *args)
        except RuntimeError:  # shutting down
            pass

    def _send(self, message: Message) -> None:
        if not self.client.connected.is_set():
            return
        try:
            self.client.send(message)
        except OSError as error:
            log.info('%s not sent: %s', type(message).__name__, error)

    # -- settings -----------------------------------------------------------------------------------
    @property
    def settings_root(self) -> Parameter:
        return self.module.settings.child(self.hw_settings)

    def _xml_of_settings(self) -> str:
        """The hardware settings as PyMoDAQ's XML, with the instrument-only ones marked (see
        :data:`INSTRUMENT_ONLY`)."""
        tree = ElementTree.fromstring(ioxml.parameter_to_xml_string(self.settings_root))
        controller = tree.find(INSTRUMENT_ONLY[0][0])
        if controller is not None:
            controller.set('title', CONTROLLER_TITLE)
            for _, name in INSTRUMENT_ONLY:
                element = controller.find(name)
                if element is not None:
                    element.set('readonly', '1')
        return ElementTree.tostring(tree, encoding='unicode')

    def settings_xml(self) -> str:
        """The last XML of the module's hardware settings (any thread)."""
        with self._lock:
            return self._settings_xml

    def apply_set_info(self, message: SetInfo) -> None:
        """The main PC edited a setting (connection thread): apply it in the Qt thread."""
        self.in_qt(lambda: self._apply_set_info(message))

    def _apply_set_info(self, message: SetInfo) -> None:
        path = list(message.path)
        if path and path[0] == self.hw_settings:  # servers prefix the root we sent (docs/protocol.rst §4.12)
            path = path[1:]
        where = '/'.join(path)
        try:
            param = self.settings_root.child(*path)
            value = parse_parameter_xml(message.xml).get('value')
        except Exception as error:  # no such setting, or XML that does not parse
            log.warning('set_info %s ignored: %s', where, error)
            self.send_later(Info('error', f'set_info {where} ignored: {error}'))
            return
        if param.type() == 'group' or param.readonly() or tuple(path) in INSTRUMENT_ONLY:
            log.warning('set_info %s ignored: not an editable setting', where)
            self.send_later(Info('error', f'set_info {where} ignored: not an editable setting'))
            return
        self._applying_set_info = True
        try:
            param.setValue(value)  # the module passes it on to the plugin (commit_settings)
        finally:
            self._applying_set_info = False
        self._refresh_xml()
        log.info('setting %s = %r (from the main PC)', where, param.value())

    def _on_tree_changed(self, _: Parameter, changes: List[Tuple[Parameter, str, Any]]) -> None:
        """Qt thread: value edits go out as ``Info_xml``; a changed structure as a new ``Infos``."""
        for param, change, _data in changes:
            path = self.module.settings.childPath(param)
            if not path or path[0] != self.hw_settings:
                continue
            if change == 'value':
                self._refresh_xml()
                if not self._applying_set_info:
                    xml = ioxml.parameter_to_xml_string(param)
                    self.send_later(InfoXml(tuple(path), xml.decode() if isinstance(xml, bytes) else xml))
            elif change in ('childAdded', 'childRemoved', 'parent', 'limits', 'name'):
                self._schedule_infos()

    def _refresh_xml(self) -> None:
        xml = self._xml_of_settings()
        with self._lock:
            self._settings_xml = xml

    def _schedule_infos(self) -> None:
        """A burst of structure changes (a plugin's init) makes one ``Infos``."""
        if not self._infos_scheduled:
            self._infos_scheduled = True
            QTimer.singleShot(0, self._send_infos)

    def _send_infos(self) -> None:
        self._infos_scheduled = False
        self._refresh_xml()
        self.send_later(Infos(self.settings_xml()))

    def _on_status(self, text: str) -> None:
        log.info('status: %s', text)
        self.send_later(Info('status', text))
