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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from pymodaq.utils.data import DataSource, DataToExport
from pymodaq_gui.parameter import Parameter, ioxml
from qtpy.QtCore import QObject, QTimer, Signal

from tcpbridge import (
    DEAD_LINK_S,
    ActuatorClient,
    BridgeClient,
    Done,
    GrabberClient,
    Info,
    Infos,
    InfoXml,
    Message,
    SetInfo,
    parse_parameter_xml,
)

from ..convert import dte_to_wire

log = logging.getLogger('tcpbridge.module')


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


class _Waiter:
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
        xml = ioxml.parameter_to_xml_string(self.settings_root)
        return xml.decode() if isinstance(xml, bytes) else xml

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
        if param.type() == 'group' or param.readonly():
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


# -- actuator ---------------------------------------------------------------------------------------

class _HostedStage(ActuatorClient):
    """The ACTUATOR client of a hosted DAQ_Move: every call goes to :class:`ActuatorHost`."""

    def __init__(self, host: ActuatorHost, endpoint: Endpoint) -> None:
        self.module_host = host
        super().__init__(endpoint.host, endpoint.port, listen=endpoint.listen, tls=endpoint.tls,
                         secret=endpoint.secret, dialect=endpoint.dialect, dead_link_s=endpoint.dead_link_s,
                         name=host.module.title)

    @property
    def units(self) -> str:
        return self.module_host.units

    def link_changed(self, state: str, detail: str) -> None:
        self.module_host.link_changed(state, detail)

    def get_position(self) -> float:
        return self.module_host.position

    def move_abs(self, target: float) -> Optional[float]:
        return self.module_host.move('abs', target)

    def move_rel(self, step: float) -> Optional[float]:
        return self.module_host.move('rel', step)

    def move_home(self) -> Optional[float]:
        return self.module_host.move('home')

    def stop_motion(self) -> None:
        self.module_host.in_qt(self.module_host.module.stop_motion)

    def settings_xml(self) -> str:
        return self.module_host.settings_xml()

    def apply_set_info(self, message: SetInfo) -> None:
        self.module_host.apply_set_info(message)


class ActuatorHost(ModuleHost):
    """Bridges a DAQ_Move as an ACTUATOR client.

    Positions are floats in the module's units (``actuator_settings/units``, e.g. ``'µm'``), sent as
    scalars (legacy dialect) or DataActuators with those units (pymodaq4).
    """

    hw_settings = 'actuator_settings'
    client: _HostedStage

    def __init__(self, module: Any, endpoint: Endpoint, timeout: float) -> None:
        super().__init__(module, timeout)
        self._position: Optional[float] = None  # until the module reports it
        self._units = str(module.units)
        self._move: Optional[_Waiter] = None
        self.client = _HostedStage(self, endpoint)

    @property
    def ready(self) -> bool:
        return self._position is not None

    @property
    def position(self) -> float:
        """The last position the module reported (any thread; after :attr:`ready`)."""
        with self._lock:
            return self._position or 0.0

    @property
    def units(self) -> str:
        with self._lock:
            return self._units

    def move(self, kind: str, value: Optional[float] = None) -> float:
        """Connection thread: make the module move (``'abs'``, ``'rel'`` or ``'home'``) and wait
        for its ``move_done``; returns the final position.

        Raises:
            HostError: no ``move_done`` within the timeout.
        """
        waiter = _Waiter()
        with self._lock:
            self._move = waiter
        self.in_qt(lambda: self._start_move(kind, value))
        what = f'move_{kind}' + ('' if value is None else f' {value:g} {self.units}')
        return float(waiter.wait(self.timeout, what))

    def _start_move(self, kind: str, value: Optional[float]) -> None:
        log.info('move_%s%s', kind, '' if value is None else f' {value:g} {self.units}')
        if kind == 'abs':
            self.module.move_abs(value)
        elif kind == 'rel':
            self.module.move_rel(value)
        else:
            self.module.move_home()

    def _connect_signals(self) -> None:
        self.module.move_done_signal.connect(self._on_move_done)
        self.module.current_value_signal.connect(self._on_value)
        self.module.get_actuator_value()  # the position now: makes the host ready

    def _on_value(self, value: Any) -> None:
        """Qt thread: a position reported by the module (while moving, or polled)."""
        self._report(self._store(value))

    def _report(self, position: float) -> None:
        """``position_is`` from the sender thread (when connected)."""
        if self.client.connected.is_set():
            self._submit(self.client.report_position, position)

    def _on_move_done(self, value: Any) -> None:
        position = self._store(value)
        with self._lock:
            waiter, self._move = self._move, None
        log.info('move done at %g %s', position, self.units)
        if waiter is not None:
            waiter.resolve(position)
        else:  # a move made here (the module's window): show where the stage is now
            self._report(position)

    def _store(self, value: Any) -> float:
        position = float(value.value())
        with self._lock:
            self._position = position
            self._units = str(self.module.units)
        return position

    def _abandon_waits(self, reason: str) -> None:
        with self._lock:
            waiter, self._move = self._move, None
        if waiter is not None:
            waiter.resolve(error=reason)


# -- detector ---------------------------------------------------------------------------------------

class _HostedDetector(GrabberClient):
    """The GRABBER client of a hosted DAQ_Viewer: every grab goes to :class:`ViewerHost`."""

    def __init__(self, host: ViewerHost, endpoint: Endpoint) -> None:
        self.module_host = host
        super().__init__(endpoint.host, endpoint.port, listen=endpoint.listen, tls=endpoint.tls,
                         secret=endpoint.secret, dialect=endpoint.dialect, dead_link_s=endpoint.dead_link_s)

    def link_changed(self, state: str, detail: str) -> None:
        self.module_host.link_changed(state, detail)

    def grab(self, dim: str) -> Any:
        return self.module_host.snap(dim)

    def settings_xml(self) -> str:
        return self.module_host.settings_xml()

    def apply_set_info(self, message: SetInfo) -> None:
        self.module_host.apply_set_info(message)


class ViewerHost(ModuleHost):
    """Bridges a DAQ_Viewer as a GRABBER client.

    Answers carry the module's raw data (what its plugin emitted, averaged by the module if
    ``Naverage`` > 1), not what its own viewers compute (ROIs): those belong to the instrument PC's
    display.
    """

    hw_settings = 'detector_settings'

    def __init__(self, module: Any, endpoint: Endpoint, timeout: float) -> None:
        super().__init__(module, timeout)
        self._snaps: List[_Waiter] = []
        self._latest: Optional[DataToExport] = None  # the frame of the running grab to push next
        self.pushed = self.dropped = 0
        self.client = _HostedDetector(self, endpoint)

    def snap(self, dim: str) -> Any:
        """Connection thread: one acquisition of the module, as the wire DataToExport.

        Raises:
            HostError: no data within the timeout.
        """
        waiter = _Waiter()
        with self._lock:
            self._snaps.append(waiter)
        self.in_qt(self._start_snap)
        dte = waiter.wait(self.timeout, f'Send Data {dim}')
        return dte_to_wire(dte)

    def _start_snap(self) -> None:
        if not self.module.grab_state:  # during a continuous grab the next frame answers
            self.module.snap()

    def _connect_signals(self) -> None:
        self.module.grab_done_signal.connect(self._on_grab_done)

    def _on_grab_done(self, dte: DataToExport) -> None:
        """Qt thread: the module's data: answer the pending requests, or push a live frame."""
        raw = dte.get_data_from_source(DataSource.raw)
        with self._lock:
            waiters, self._snaps = self._snaps, []
            push = not waiters and self.module.grab_state and self.client.connected.is_set()
            if push:
                if self._latest is not None:
                    self.dropped += 1  # the link is slower than the camera: the newest frame wins
                else:
                    self._submit(self._push)
                self._latest = raw
        for waiter in waiters:
            waiter.resolve(raw)

    def _push(self) -> None:
        with self._lock:
            dte, self._latest = self._latest, None
        if dte is not None:
            self._send(Done(dte_to_wire(dte)))
            self.pushed += 1

    def _abandon_waits(self, reason: str) -> None:
        with self._lock:
            waiters, self._snaps = self._snaps, []
        for waiter in waiters:
            waiter.resolve(error=reason)
