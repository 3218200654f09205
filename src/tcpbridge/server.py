"""The server engine behind the TCPServer plugins: accepts clients, reads the hello, decodes their
messages, sends commands, keeps per-client state, and reports everything as events.

It runs one thread with a ``selectors`` loop (no polling timer, no sleep), so the plugin's thread
never blocks on a socket.  Events are passed to the ``on_event`` callback *in the engine thread*;
the plugins turn them into Qt signals.

Several clients: the first client of the right type controls the plugin; later ones are kept on
standby (listed, sent nothing, their messages ignored) and the oldest takes control when the
controller leaves.  A client of the wrong type is refused, with the reason logged.
"""
from __future__ import annotations

import ipaddress
import itertools
import logging
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .decoder import Decoder, Role
from .dialects import Dialect, DwaLayout
from .encoder import Encoder
from .errors import ProtocolError
from .limits import DEFAULT_LIMITS, Limits
from .messages import (ACTUATOR, CheckPosition, ClientType, Infos, Message, Quit,
                       command_string)
from .transport import close_quietly, configure, consume, format_address, listen

log = logging.getLogger('tcpbridge.server')

CONTROLLER = 'controller'
STANDBY = 'standby'


@dataclass(frozen=True)
class ClientInfo:
    """What the clients table shows of one connection."""

    id: int
    peer: str
    connected_since: float
    client_type: str = ''
    role: str = ''
    dialect: Optional[Dialect] = None
    layout: Optional[DwaLayout] = None
    last_message: str = ''
    last_seen: float = 0.0


# -- events ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """Base class of what the engine reports."""


@dataclass(frozen=True)
class ClientConnected(Event):
    """A client sent a valid hello; ``client.role`` says whether it controls or stands by."""

    client: ClientInfo


@dataclass(frozen=True)
class ClientRefused(Event):
    """A connection was closed before or at the hello (wrong type, silence, too many clients)."""

    peer: str
    reason: str


@dataclass(frozen=True)
class ClientLost(Event):
    """A client left (``Quit``), broke the protocol, or the connection dropped."""

    client: ClientInfo
    reason: str


@dataclass(frozen=True)
class ControllerChanged(Event):
    """A standby client took control (``client``), or none is left (``client`` None).
    ``infos_xml`` is the last ``Infos`` the new controller sent."""

    client: Optional[ClientInfo]
    infos_xml: str = ''


@dataclass(frozen=True)
class MessageReceived(Event):
    """A message from the controlling client."""

    client: ClientInfo
    message: Message


@dataclass(frozen=True)
class DialectDetected(Event):
    """The controlling client's payloads showed its dialect (WIRE.md §6)."""

    client: ClientInfo


@dataclass(frozen=True)
class ReplyTimeout(Event):
    """``command`` was sent, and no ``expected`` reply came within the timeout."""

    client: ClientInfo
    command: str
    expected: Tuple[str, ...]


# -- engine ---------------------------------------------------------------------------------------

@dataclass
class _Connection:
    sock: socket.socket
    info: ClientInfo
    decoder: Decoder
    hello_deadline: float
    out: deque = field(default_factory=deque)
    out_bytes: int = 0
    expected: Dict[Tuple[str, ...], Tuple[str, float]] = field(default_factory=dict)
    infos_xml: str = ''
    writing: bool = False


class BridgeServer:
    """Listens on ``host:port`` for clients of type ``client_type`` ('GRABBER' or 'ACTUATOR').

    Args:
        host / port: where to listen (port 0: the OS chooses, see :attr:`address`).
        client_type: the only type accepted.
        on_event: called with each :class:`Event`, in the engine thread; must not block.
        dialect: ``None`` (auto: learned from the client's payloads) or a fixed :class:`Dialect`.
        limits: bounds on what clients send.
        hello_timeout: seconds a new connection has to send its type.
        max_clients: connections kept at once (controller + standby + handshaking).
        max_queued_bytes: bytes waiting to be sent to one client before it is dropped as stuck.
        probe_position: for actuators, send ``check_position`` after the hello to learn the
            dialect from the reply (WIRE.md §6).
        probe_timeout: seconds to wait for that reply.
        allowed: client addresses or networks accepted (e.g. ``['192.168.1.0/24', '10.0.0.5']``);
            None or empty: any.  Others are refused at once, with the reason logged.

    Raises:
        OSError: the address cannot be listened on (in use, not local...).
        ValueError: an entry of ``allowed`` is not an IP address or network.
    """

    def __init__(self, host: str, port: int, client_type: str, on_event: Callable[[Event], None], *,
                 dialect: Optional[Dialect] = None, limits: Limits = DEFAULT_LIMITS,
                 hello_timeout: float = 10.0, max_clients: int = 8, max_queued_bytes: int = 64 << 20,
                 probe_position: bool = True, probe_timeout: float = 5.0,
                 allowed: Optional[Sequence[str]] = None) -> None:
        self.client_type = client_type
        self.allowed = [ipaddress.ip_network(a.strip(), strict=False) for a in (allowed or []) if a.strip()]
        self.on_event = on_event
        self.dialect = dialect
        self.limits = limits
        self.hello_timeout = hello_timeout
        self.max_clients = max_clients
        self.max_queued_bytes = max_queued_bytes
        self.probe_position = probe_position and client_type == ACTUATOR
        self.probe_timeout = probe_timeout
        self._listener = listen(host, port)
        self._listener.setblocking(False)
        self.address: Tuple[str, int] = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._connections: Dict[int, _Connection] = {}
        self._ids = itertools.count(1)
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=f'tcpbridge-server-{self.address[1]}',
                                        daemon=True)
        self._thread.start()
        log.info('listening on %s for %s clients', format_address(self.address), client_type)

    # -- API for the plugin (any thread) ------------------------------------------------------------
    @property
    def clients(self) -> List[ClientInfo]:
        """Snapshot of every connection, oldest first."""
        with self._lock:
            return [c.info for c in self._connections.values()]

    @property
    def controller(self) -> Optional[ClientInfo]:
        """The client that receives the commands, or None."""
        with self._lock:
            conn = self._controller()
            return conn.info if conn else None

    def send(self, message: Message, expect: Tuple[str, ...] = (), timeout: Optional[float] = None) -> bool:
        """Queue ``message`` for the controlling client, encoded in its dialect.

        Args:
            expect: reply commands that settle it (e.g. ``('Done',)``); if none arrives within
                ``timeout`` seconds a :class:`ReplyTimeout` event is emitted.
        Returns:
            False if no client controls the plugin (nothing was sent).
        Raises:
            EncodeError: the message cannot be encoded in that dialect.
        """
        with self._lock:
            conn = self._controller()
            if conn is None:
                return False
            dialect = conn.info.dialect or self.dialect or Dialect.LEGACY
            buffers = Encoder(dialect, conn.info.layout or DwaLayout.V4_4).encode(message)
            self._queue(conn, buffers)
            if expect and timeout is not None:
                conn.expected[expect] = (command_string(message), time.monotonic() + timeout)
        self._wake()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Close every socket and stop the thread; the port can be listened on again at once."""
        self._closing = True
        self._wake()
        self._thread.join(timeout)

    # -- engine thread ------------------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_w.send(b'x')
        except OSError:
            pass

    def _controller(self) -> Optional[_Connection]:
        return next((c for c in self._connections.values() if c.info.role == CONTROLLER), None)

    def _emit(self, event: Event) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception('event handler failed on %s', type(event).__name__)

    def _loop(self) -> None:
        try:
            while not self._closing:
                for key, mask in self._selector.select(self._next_timeout()):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        self._drain_wake()
                    else:
                        conn = key.data
                        if mask & selectors.EVENT_READ:
                            self._read(conn)
                        if mask & selectors.EVENT_WRITE and conn.info.id in self._connections:
                            self._write(conn)
                self._check_deadlines()
        except Exception:
            log.exception('server engine stopped by an error')
        finally:
            self._shutdown()

    def _drain_wake(self) -> None:
        try:
            self._wake_r.recv(4096)
        except BlockingIOError:
            pass
        with self._lock:
            for conn in list(self._connections.values()):
                self._update_interest(conn)

    def _next_timeout(self) -> Optional[float]:
        with self._lock:
            deadlines = [c.hello_deadline for c in self._connections.values() if not c.info.client_type]
            deadlines += [d for c in self._connections.values() for _, d in c.expected.values()]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _accept(self) -> None:
        try:
            sock, address = self._listener.accept()
        except OSError:
            return
        peer = format_address(address)
        if self.allowed and not self._is_allowed(address[0]):
            close_quietly(sock)
            self._refuse(peer, f'{address[0]} is not among the allowed clients '
                               f'({", ".join(str(n) for n in self.allowed)})')
            return
        if len(self._connections) >= self.max_clients:
            close_quietly(sock)
            self._refuse(peer, f'{self.max_clients} connections already open')
            return
        configure(sock)
        sock.setblocking(False)
        info = ClientInfo(id=next(self._ids), peer=peer, connected_since=time.time())
        conn = _Connection(sock, info, Decoder(Role.SERVER, self.limits),
                           hello_deadline=time.monotonic() + self.hello_timeout)
        with self._lock:
            self._connections[info.id] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn)
        log.debug('connection from %s', peer)

    def _is_allowed(self, host: str) -> bool:
        ip = ipaddress.ip_address(host.split('%', 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # an IPv4 client of a dual-stack socket
        return any(ip in network for network in self.allowed)

    def _refuse(self, peer: str, reason: str) -> None:
        log.warning('client %s refused: %s', peer, reason)
        self._emit(ClientRefused(peer, reason))

    def _read(self, conn: _Connection) -> None:
        try:
            n = conn.sock.recv_into(conn.decoder.get_buffer())
            if n == 0:
                truncated = ' in the middle of a message' if conn.decoder.in_message else ''
                self._drop(conn, f'connection closed by the client{truncated}')
                return
            conn.decoder.buffer_updated(n)
        except (BlockingIOError, InterruptedError):
            return
        except ProtocolError as error:
            self._drop(conn, f'protocol error, connection closed (the stream has no envelope, it cannot '
                             f'be resynchronised): {error}')
            return
        except OSError as error:
            self._drop(conn, f'connection lost: {error}')
            return
        for message in conn.decoder.pop_messages():
            if conn.info.id not in self._connections:
                return
            self._handle(conn, message)

    def _set_info(self, conn: _Connection, **changes: object) -> ClientInfo:
        with self._lock:
            conn.info = replace(conn.info, **changes)
        return conn.info

    def _handle(self, conn: _Connection, message: Message) -> None:
        if isinstance(message, ClientType):
            self._hello(conn, message.client_type)
            return
        info = self._set_info(conn, last_message=command_string(message), last_seen=time.time())
        if isinstance(message, Quit):
            self._drop(conn, 'the client quit')
            return
        if isinstance(message, Infos):
            conn.infos_xml = message.xml
        dialect = getattr(message, 'dialect', None)
        if dialect is not None and (dialect is not info.dialect or message.layout != info.layout):
            if self.dialect is not None and dialect is not self.dialect:
                log.warning('client %s speaks %s but the plugin is set to %s: following the client',
                            info.peer, dialect.value, self.dialect.value)
            info = self._set_info(conn, dialect=dialect, layout=message.layout)
            if info.role == CONTROLLER:
                self._emit(DialectDetected(info))
        with self._lock:
            for expected in [e for e in conn.expected if message.command in e]:
                del conn.expected[expected]
        if info.role == CONTROLLER:
            self._emit(MessageReceived(info, message))
        else:
            log.debug('%s from standby client %s ignored', command_string(message), info.peer)

    def _hello(self, conn: _Connection, client_type: str) -> None:
        if client_type != self.client_type:
            self._close_connection(conn)
            self._refuse(conn.info.peer, f'{client_type!r} is not a valid type here: this plugin '
                                         f'accepts {self.client_type} clients')
            return
        with self._lock:
            role = STANDBY if self._controller() else CONTROLLER
        info = self._set_info(conn, client_type=client_type, role=role, last_message=client_type,
                              last_seen=time.time(), dialect=self.dialect)
        log.info('%s client connected from %s (%s)', client_type, info.peer, role)
        self._emit(ClientConnected(info))
        if role == CONTROLLER:
            self._probe(conn)

    def _probe(self, conn: _Connection) -> None:
        if self.probe_position:
            with self._lock:
                self._queue(conn, Encoder(Dialect.LEGACY).encode(CheckPosition()))
                conn.expected[('position_is',)] = ('check_position', time.monotonic() + self.probe_timeout)
            self._update_interest(conn)

    def _queue(self, conn: _Connection, buffers: list) -> None:
        views = [memoryview(b).cast('B') for b in buffers if len(b)]
        conn.out.extend(views)
        conn.out_bytes += sum(v.nbytes for v in views)

    def _update_interest(self, conn: _Connection) -> None:
        want_write = bool(conn.out)
        if want_write != conn.writing and conn.info.id in self._connections:
            conn.writing = want_write
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
            self._selector.modify(conn.sock, events, conn)

    def _write(self, conn: _Connection) -> None:
        with self._lock:
            if conn.out_bytes > self.max_queued_bytes:
                reason = f'client does not read: {conn.out_bytes} bytes waiting'
            else:
                reason = ''
                try:
                    pending = list(conn.out)
                    sent = conn.sock.sendmsg(pending[:512])
                    conn.out = deque(consume(pending, sent))
                    conn.out_bytes -= sent
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as error:
                    reason = f'connection lost while sending: {error}'
            if not reason:
                self._update_interest(conn)
        if reason:
            self._drop(conn, reason)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for conn in list(self._connections.values()):
            if not conn.info.client_type and now >= conn.hello_deadline:
                self._close_connection(conn)
                self._refuse(conn.info.peer, f'no client type received within {self.hello_timeout:g} s')
                continue
            with self._lock:
                late = [(e, c) for e, (c, d) in conn.expected.items() if now >= d]
                for expected, _ in late:
                    del conn.expected[expected]
            for expected, command in late:
                if conn.info.role == CONTROLLER:
                    self._emit(ReplyTimeout(conn.info, command, expected))

    def _close_connection(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.pop(conn.info.id, None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        close_quietly(conn.sock)

    def _drop(self, conn: _Connection, reason: str) -> None:
        self._close_connection(conn)
        if not conn.info.client_type:
            self._refuse(conn.info.peer, reason)
            return
        log.info('client %s lost: %s', conn.info.peer, reason)
        self._emit(ClientLost(conn.info, reason))
        if conn.info.role == CONTROLLER:
            self._promote()

    def _promote(self) -> None:
        with self._lock:
            standby = next((c for c in self._connections.values() if c.info.role == STANDBY), None)
        if standby is None:
            self._emit(ControllerChanged(None))
            return
        info = self._set_info(standby, role=CONTROLLER)
        log.info('standby client %s takes control', info.peer)
        self._emit(ControllerChanged(info, standby.infos_xml))
        if info.dialect is None or self.dialect is not None:
            self._probe(standby)

    def _shutdown(self) -> None:
        for conn in list(self._connections.values()):
            self._close_connection(conn)
        for sock in (self._listener, self._wake_r, self._wake_w):
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        self._selector.close()
        log.info('server on %s closed', format_address(self.address))

