"""The logic shared by every TCPServer plugin: settings, the server engine, client settings sync.

:class:`TCPServerPlugin` is mixed into ``DAQ_Move_base`` / ``DAQ_Viewer_base``.  The
:class:`tcpbridge.BridgeServer` runs its own thread; its events are re-emitted through a Qt
signal of a relay object created in the plugin's thread, so every handler below runs in the
plugin's (hardware) thread and never touches a socket for longer than queueing a message.
"""
from __future__ import annotations

import errno
import ipaddress
import ssl
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Optional, Tuple

from pymodaq.control_modules.thread_commands import ThreadStatus
from pymodaq_gui.parameter import Parameter
from pymodaq_utils.logger import get_module_name, set_logger
from pymodaq_utils.utils import ThreadCommand
from qtpy.QtCore import QTimer

from tcpbridge import Dialect, Limits, client_context, server_context
from tcpbridge.server import (
    AUTH_WINDOW_S,
    OBSERVING,
    REDIAL_DELAYS,
    WAITING,
    BacklogLimits,
    BridgeServer,
    ClientConnected,
    ClientInfo,
    ClientLost,
    ClientRefused,
    ConnectFailed,
    ControlChanged,
    DialectDetected,
    EngineStopped,
    Event,
    MessageReceived,
    ReplyTimeout,
    format_address,
)
from tcpbridge.wire import Message

from .client_settings import ClientSettingsMirror
from .event_relay import EventRelay
from .link_indicator import LinkIndicator, link_of, sticky_status_command
from .plugin_settings import (
    BACKLOG_MESSAGES,
    CONNECT,
    LIMITS,
    LISTEN,
    PYMODAQ5_LIMITS,
    SECURITY,
    SERVER_SETTINGS,
)
from .reconnect import ReconnectWait, Waiting
from .versions import warn_if_unsupported

logger = set_logger(get_module_name(__file__))
warn_if_unsupported(logger)  # once, when the first TCPServer plugin module is imported

#: seconds between two refreshes of the clients table caused by ordinary messages
TABLE_REFRESH_S = 1.0
#: back-pressure (tcpbridge.net.backlog): a data set still held after this many seconds no longer counts
BACKLOG_HOLD_S = 5.0
#: the engine is restarted after an internal error at most this often within the window
MAX_ENGINE_RESTARTS = 3
ENGINE_RESTART_WINDOW_S = 60.0
DIALECT_NAMES = {Dialect.LEGACY: 'legacy (PyMoDAQ 3.x/4.0, LabVIEW)', Dialect.PYMODAQ4: 'pymodaq4',
                 Dialect.PYMODAQ5: 'pymodaq5 (a PyMoDAQ 5.0/5.1 module)'}


class Delivery:
    """The back-pressure release of one received message (:mod:`tcpbridge.net.backlog`): a handler
    that hands the message's data on :meth:`take` s it and ties it to the life of what it emits;
    otherwise the bridge releases it once the message is handled."""

    def __init__(self, release: Optional[Callable[[], None]]) -> None:
        self._release = release

    def take(self) -> Optional[Callable[[], None]]:
        """The release (None if there is none, or it was taken); the caller must call it once."""
        release, self._release = self._release, None
        return release

    def release(self) -> None:
        """Release now, unless taken."""
        release = self.take()
        if release is not None:
            release()


class TCPServerPlugin:
    """Server side of the bridge, mixed into a PyMoDAQ plugin class.

    Subclasses set :attr:`client_type` and implement :meth:`_on_client_message`,
    :meth:`_on_reply_timeout` and :meth:`_on_control_lost`.
    """

    client_type = ''
    bridge: Optional[BridgeServer] = None
    _relay: Optional[EventRelay] = None
    _client_settings: Optional[ClientSettingsMirror] = None  # created with the first server
    _connect_failure = ''  # connect mode: the cause of the last failed attempt, shown once
    _table_refreshed = 0.0
    _engine_restarts: Tuple[float, ...] = ()  # when the engine thread was restarted (recent ones)
    _reconnect: Optional[ReconnectWait] = None
    _link_indicator: Optional[LinkIndicator] = None  # the name colour shown (created per plugin)
    _had_client = False  # a client was in control since the plugin started listening
    _gone = ''  # when and why the last client in control left ('' while one is there, or none came)

    if TYPE_CHECKING:  # what the PyMoDAQ plugin class this is mixed into provides
        settings: Parameter
        _title: str
        controller: Optional[BridgeServer]  # PyMoDAQ's name for the plugin's hardware: the bridge

        def emit_status(self, status: ThreadCommand) -> None: ...

    @property
    def client_settings(self) -> ClientSettingsMirror:
        """The client's settings and Info lines in this plugin's tree (created at first use)."""
        if self._client_settings is None:
            self._client_settings = ClientSettingsMirror(self.settings, self._status, self._on_client_settings)
        return self._client_settings

    # -- life cycle -------------------------------------------------------------------------------
    def _start_bridge(self) -> tuple:
        """Listen on ``socket_ip:port_id``; returns PyMoDAQ's ``(info, initialized)``; never waits
        for a client."""
        self._stop_bridge()
        self._gone = ''
        self.client_settings.forget_values()
        self._had_client = False
        if self._reconnect is None:  # created here, in the plugin's thread (its timer lives there)
            self._reconnect = ReconnectWait(self._on_reconnect_expired)
        if self._link_indicator is None:
            self._link_indicator = LinkIndicator()
        self._relay = EventRelay(self._on_bridge_event)
        host, port = self.settings['socket_ip'], self.settings['port_id']
        security, limits = self.settings.child(SECURITY), self.settings.child(LIMITS)
        dialect, allowed = self.settings['dialect'], security['allowed_clients']
        dial = self.settings['connection'] == CONNECT
        self._connect_failure = ''
        try:
            tls = self._tls_context(dial)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            info = f'TLS not set up: {error}'
            self._status(info, error=True)
            return info, False
        try:
            self.bridge = BridgeServer(
                host, port, self.client_type, self._relay.post, dial=dial, tls=tls,
                auth_secret=str(security['auth_secret']), max_observers=int(security['max_observers']),
                observer_queue_bytes=int(security['observer_queue_mib']) << 20,
                dialect=None if dialect == 'auto' else Dialect(dialect),
                limits=Limits(max_payload_bytes=limits['max_message_mib'] << 20),
                backlog=BacklogLimits(int(limits['max_backlog_mib']) << 20, BACKLOG_MESSAGES, BACKLOG_HOLD_S),
                probe_timeout=limits['reply_timeout'], dead_link_s=float(limits['dead_link_s']),
                allowed=allowed.split(',') if allowed.strip() else None)
        except OSError as error:
            why = 'the port is already in use' if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
            info = f'cannot listen on {format_address((host, port))}: {why}'
            self._status(info, error=True)
            return info, False
        except ValueError as error:
            info = f'invalid allowed clients {allowed!r}: {error}'
            self._status(info, error=True)
            return info, False
        self.controller = self.bridge
        if dial:
            info = (f'connecting to the {self.client_type} instrument at {format_address(self.bridge.address)}'
                    + (' (TLS)' if tls else ''))
            self._status(info)
            self._refresh_clients()
            self._repaint_link_after_init()
            return info, True
        if port == 0:  # the OS chose the port: show it (clients must be told)
            self.settings.child('port_id').setValue(self.bridge.address[1])
        info = (f'listening on {format_address(self.bridge.address)} for {self.client_type} clients'
                + (' (TLS' + (', client certificates required)' if security['tls_client_ca'] else ')')
                   if tls else ''))
        self._status(info)
        if tls is None and not security['auth_secret'] and not _loopback(host):
            self._status(f'warning: {host} is reachable from the network and this port has neither TLS nor '
                         'authentication: any program that reaches it can drive this module and read its '
                         'settings (set tls_cert / tls_key, see tcpbridge cert, or auth_secret, or listen on '
                         '127.0.0.1)', error=True)
        self._refresh_clients()
        self._repaint_link_after_init()
        return info, True

    def _repaint_link_after_init(self) -> None:
        """PyMoDAQ paints the module's name green when the init returns: paint the link's colour
        once more after that (the timer fires in the plugin's thread once the init has returned)."""
        def repaint() -> None:
            command = self._link_indicator.repaint() if self._link_indicator else None
            if command is not None:
                self.emit_status(command)
        QTimer.singleShot(0, repaint)

    def _tls_context(self, dial: bool) -> Optional[ssl.SSLContext]:
        """The TLS context of the TLS settings, or None for plain TCP.

        Listen mode: ``tls_cert`` / ``tls_key`` are this server's, ``tls_client_ca`` (optional) the CA
        of the client certificates required.  Connect mode: ``tls_ca`` is the CA of the instrument's
        certificate (its host name is checked against *IP*), ``tls_cert`` / ``tls_key`` (optional)
        this plugin's client certificate.

        Raises:
            OSError / ssl.SSLError: a file is missing or not a certificate / key.
            ValueError: settings that do not make a TLS setup of the mode.
        """
        cert, key, client_ca, ca = (str(self.settings[SECURITY, name]).strip()
                                    for name in ('tls_cert', 'tls_key', 'tls_client_ca', 'tls_ca'))
        if dial:
            if client_ca:
                raise ValueError(f'TLS client CA applies to {LISTEN} mode; in {CONNECT} mode set the TLS CA of '
                                 'the instrument')
            if not ca:
                if cert or key:
                    raise ValueError(f'in {CONNECT} mode a TLS certificate needs the TLS CA of the instrument')
                return None
            if key and not cert:
                raise ValueError('a TLS key without a TLS certificate')
            return client_context(ca, cert or None, key or None)
        if ca:
            raise ValueError(f'TLS CA of the instrument applies to {CONNECT} mode; in {LISTEN} mode set the TLS '
                             'certificate and key (and the TLS client CA to require client certificates)')
        if not (cert or key or client_ca):
            return None
        if not cert:
            raise ValueError('a TLS key or client CA without a TLS certificate')
        return server_context(cert, key or cert, client_ca or None)

    def _on_engine_stopped(self, reason: str) -> None:
        """The engine thread died (a bug): tell the user, and listen again unless it keeps dying."""
        now = time.monotonic()
        self._engine_restarts = tuple(t for t in self._engine_restarts if now - t < ENGINE_RESTART_WINDOW_S)
        if len(self._engine_restarts) >= MAX_ENGINE_RESTARTS:
            self._stop_bridge()
            self._status(f'the TCP server stopped ({reason}) {MAX_ENGINE_RESTARTS} times within '
                         f'{ENGINE_RESTART_WINDOW_S:g} s: not restarted; re-initialise the plugin', error=True)
            return
        self._engine_restarts += (now,)
        self._status(f'the TCP server stopped on an internal error ({reason}): restarting it', error=True)
        self._on_control_lost(ClientInfo(id=0, peer='(all clients)', connected_since=0.0))
        self._start_bridge()

    def _stop_bridge(self) -> None:
        """Close every socket and stop the engine thread (the port is free again at once)."""
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None
        if self._relay is not None:
            self._relay.close()
            self._relay = None
        self.settings.child('connected').setValue(False)
        self._show_summary('not listening')

    @property
    def client_connected(self) -> bool:
        """True when a client controls the plugin."""
        return self.bridge is not None and self.bridge.in_control is not None

    # -- status ---------------------------------------------------------------------------------------
    def _status(self, text: str, error: bool = False) -> None:
        """Show ``text`` in the module's status bar (until the next status), in the plugin's *Status*
        setting (a DAQ_Viewer has no status bar on screen) and in the log."""
        (logger.warning if error else logger.info)(f'{self._title}: {text}')
        self.emit_status(ThreadCommand(ThreadStatus.UPDATE_STATUS, text))
        self.emit_status(sticky_status_command(text))  # kept on screen until the next status
        line = f'{time.strftime("%H:%M:%S")} {"ERROR: " if error else ""}{text}'
        self.settings.child('status').setValue(line)
        self.settings.child('status').setOpts(tip=line)

    def _refresh_clients(self) -> None:
        self._table_refreshed = time.monotonic()
        table = OrderedDict()
        for client in (self.bridge.clients if self.bridge else []):
            table[client.peer] = _describe(client)
        for host, failures in (self.bridge.auth_failures if self.bridge else {}).items():
            limit = self.bridge.config.max_auth_failures if self.bridge else 0
            table[f'{host} (authentication)'] = (
                f'{failures} failed within {AUTH_WINDOW_S:g} s as of {time.strftime("%H:%M:%S")}'
                + (': refused until they age out' if failures >= limit else ''))
        backlog = self.bridge.backlog if self.bridge else None
        if backlog is not None and backlog[2]:
            table['backlog'] = (f'{backlog[0]} data sets ({backlog[1] / 2 ** 20:.1f} MiB) not yet taken by PyMoDAQ as '
                                f'of {time.strftime("%H:%M:%S")}: the client is not read until it catches up')
        self.settings.child('conn_clients').setValue(table)
        self.settings.child('connected').setValue(self.client_connected)
        self._show_summary(self._summary())

    def _summary(self) -> str:
        """One line on the link: the client in control and since when, or what the plugin waits for."""
        if self.bridge is None:
            return 'not listening'
        in_control = self.bridge.in_control
        where = format_address(self.bridge.address)
        if in_control is not None:
            since = time.strftime('%H:%M', time.localtime(in_control.connected_since))
            dialect = in_control.dialect.value if in_control.dialect else 'dialect not known yet'
            waiting = sum(1 for c in self.bridge.clients if c.role == WAITING)
            return (f'{in_control.client_type} {in_control.peer} connected {since}, {dialect}'
                    + (f', {waiting} waiting' if waiting else ''))
        waits = f'dialling the instrument at {where}' if self.bridge.dial else \
            f'waiting for {"an" if self.client_type.startswith("A") else "a"} {self.client_type} client on port ' \
            f'{self.bridge.address[1]}'
        return f'client gone at {self._gone}; {waits}' if self._gone else waits

    def _show_summary(self, text: str) -> None:
        """The *Summary* setting, and the colour of the module's name for the link (see
        :mod:`.link_indicator`)."""
        summary = self.settings.child('summary')
        if summary.value() != text:
            summary.setValue(text)
            summary.setOpts(tip=text)
        if self._link_indicator is not None:
            link = link_of(self.client_connected, bool(self._gone)) if self.bridge is not None else None
            command = self._link_indicator.update(link)
            if command is not None:
                self.emit_status(command)

    # -- events (plugin thread) -------------------------------------------------------------------
    def _on_bridge_event(self, event: Event) -> None:
        """Qt slot: one engine event.  Nothing a client sends may raise out of a slot."""
        delivery = Delivery(event.release if isinstance(event, MessageReceived) else None)
        try:
            self._handle_event(event, delivery)
        except Exception as error:
            logger.exception('while handling %s', type(event).__name__)
            self._status(f'{type(event).__name__} not handled: {type(error).__name__}: {error}', error=True)
        finally:
            delivery.release()  # unless a handler handed the data on: done with them

    def _handle_event(self, event: Event, delivery: Delivery) -> None:
        if self.bridge is None:
            return
        if isinstance(event, MessageReceived):
            self._on_message(event.message, event.request_id, delivery)
            if time.monotonic() - self._table_refreshed > TABLE_REFRESH_S:
                self._refresh_clients()
            return
        if isinstance(event, ConnectFailed):
            if event.reason != self._connect_failure:  # one line per new cause, not one per attempt
                self._connect_failure = event.reason
                self._status(f'cannot reach the instrument at {event.peer}: {event.reason}; trying again '
                             f'(every {REDIAL_DELAYS[1]:g} s at most)', error=True)
            return
        if isinstance(event, ClientConnected):
            self._connect_failure = ''
            role = 'it is in control' if event.client.in_control else \
                'it observes (a copy of the data and positions)' if event.client.role == OBSERVING else \
                'it waits (another client is in control)'
            self._status(f'{event.client.client_type} client connected from {event.client.peer}; {role}')
            if event.client.in_control:
                self._on_new_in_control(event.client)
        elif isinstance(event, ClientRefused):
            self._status(f'client {event.peer} refused: {event.reason}', error=True)
        elif isinstance(event, ClientLost):
            self._status(f'client {event.client.peer} lost: {event.reason}',
                         error=not event.reason.endswith('quit'))
            if event.client.in_control:
                self._gone = f'{time.strftime("%H:%M:%S")}: {event.reason}'
                self._on_control_lost(event.client)
        elif isinstance(event, ControlChanged):
            self.client_settings.clear_infos()
            if event.client is None:
                self.client_settings.mark_stale()
            else:
                self._status(f'client {event.client.peer} is now in control ({event.reason})')
                if event.infos_xml:
                    self.client_settings.apply_infos(event.infos_xml)
                self._on_new_in_control(event.client)
        elif isinstance(event, DialectDetected):
            layout = f', layout {event.client.layout.value / 100:.1f}' if event.client.layout else ''
            dialect = event.client.dialect
            named = DIALECT_NAMES[dialect] if dialect is not None else 'a dialect not known yet'
            self._status(f'client {event.client.peer} speaks {named}{layout}')
            if event.client.dialect is Dialect.PYMODAQ5:
                self._status(f'note: {PYMODAQ5_LIMITS}')
            self._on_new_in_control(event.client)
        elif isinstance(event, ReplyTimeout):
            self._on_reply_timeout(event)
        elif isinstance(event, EngineStopped):
            self._on_engine_stopped(event.reason)
            return
        self._refresh_clients()

    def _on_message(self, message: Message, request_id: int, delivery: Delivery) -> None:
        if not self.client_settings.apply(message):
            self._on_client_message(message, request_id, delivery)

    # -- subclass hooks -------------------------------------------------------------------------------
    def _on_client_message(self, message: Message, request_id: int, delivery: Delivery) -> None:
        """A message of the controlling client other than the settings ones; ``request_id``: the
        request it answers (the id ``bridge.send`` returned), 0 if none (pushed, unsolicited, or the
        reply to a request given up: docs/protocol.rst §8); ``delivery``: its back-pressure release,
        for a handler that hands its data on."""
        self._status(f'unexpected {type(message).__name__} from the client ignored', error=True)

    def _on_reply_timeout(self, event: ReplyTimeout) -> None:
        """No reply to ``event.command`` within the timeout (the engine then closes the connection)."""
        self._status(f'no answer to {event.command} within the timeout', error=True)

    def _on_control_lost(self, client: ClientInfo) -> None:
        """The controlling client left: end what was waiting for it."""

    def _on_client_settings(self) -> None:
        """The client's settings tree was (re)built from its ``Infos``."""

    def _ready_for_replay(self, client: ClientInfo) -> bool:
        """True if a request may be sent again to ``client``, the new client in control (e.g. its
        dialect is known)."""
        return True

    # -- reconnect wait (reconnect.py) ----------------------------------------------------------------
    def _wait_for_client(self, lost_during: Optional[str], replayed: str, replay: Callable[[], None]) -> bool:
        """Keep a request for the *Reconnect wait*, then ``replay`` it (``replayed``: ``'move_abs 3.25 mm'``)
        to the next client in control: one lost during it (``lost_during``: ``'move_rel (to 3.25 mm)'``), or
        (``lost_during`` None) one asked for while the client that was there is gone (a scan's next point).
        False if the wait is 0, or no client was ever there since the plugin started: the caller fails
        the request at once."""
        seconds = float(self.settings[LIMITS, 'reconnect_wait'])
        if seconds <= 0 or self._reconnect is None or (lost_during is None and not self._had_client):
            return False
        waiting = self._reconnect.start(replayed, replay, seconds)
        what = f'lost during {lost_during}' if lost_during else f'has no client for {replayed}'
        self._status(f'{self._title} {what} at {waiting.lost_clock}; waiting up to {seconds:g} s for a client',
                     error=True)
        return True

    def _on_new_in_control(self, client: ClientInfo) -> None:
        """A client took control: send it what waits for one, once it is ready for it."""
        self._had_client = True
        waiting = self._reconnect.waiting if self._reconnect is not None else None
        if waiting is None or self._reconnect is None or not self._ready_for_replay(client):
            return
        self._reconnect.resume()
        self._status(f'client back after {time.monotonic() - waiting.lost_at:.1f} s; {waiting.what} sent again')

    def _on_reconnect_expired(self, waiting: Waiting) -> None:
        """No client came back within the wait: the request fails (PyMoDAQ's timeout status)."""
        self._status(f'{self._title} lost during {waiting.what} at {waiting.lost_clock} and no client back within '
                     f'{waiting.seconds:g} s: {waiting.what} failed', error=True)
        self.emit_status(ThreadCommand(ThreadStatus.RAISE_TIMEOUT))

    def _cancel_reconnect_wait(self, why: str) -> None:
        """Stop waiting for a client (``why``: 'stop'...), saying so if something waited."""
        waiting = self._reconnect.cancel() if self._reconnect is not None else None
        if waiting is not None:
            self._status(f'{why}: {waiting.what} no longer waits for a client')

    def commit_settings(self, param: Parameter) -> None:
        """PyMoDAQ's hook for a setting changed by the user: edits of the client's settings go to the
        client (``set_info``); a new address, port, allow-list, dialect or size limit restarts the server."""
        if self.client_settings.commit(param, self._send_setting, self._setting_must_echo):
            return
        if param.name() in SERVER_SETTINGS and self.bridge is not None:
            self._start_bridge()

    def _send_setting(self, message: Message) -> bool:
        return self.bridge is not None and self.bridge.send(message) is not None

    def _setting_must_echo(self) -> bool:
        in_control = None if self.bridge is None else self.bridge.in_control
        return in_control is not None and in_control.dialect is Dialect.PYMODAQ5


def _loopback(host: str) -> bool:
    """True for an address only this PC reaches (``127.x``, ``::1``, ``localhost``)."""
    if host.strip().lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip()).is_loopback
    except ValueError:
        return False


def _describe(client: ClientInfo) -> str:
    dialect = client.dialect.value if client.dialect else 'dialect not yet known'
    since = time.strftime('%H:%M:%S', time.localtime(client.connected_since))
    last = time.strftime('%H:%M:%S', time.localtime(client.last_seen)) if client.last_seen else '-'
    kind = client.client_type or 'no hello yet'
    return f'{kind}, {client.role or "-"}, {dialect}, since {since}, last: {client.last_message} at {last}'
