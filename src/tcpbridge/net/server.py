"""The server engine behind the TCPServer plugins: one thread with a ``selectors`` loop that owns the
sockets and the clock and carries out what the sans-I/O
:class:`~tcpbridge.protocol.server_session.ServerSession` decides.

It listens for clients, or (connect mode, PyMoDAQ#246) dials an always-on instrument that listens
(``tcpbridge module --listen``, ``GrabberClient(listen=True)``...), again after every loss, with
backoff.  Either way the connection then carries the same protocol, the instrument speaking first.

No polling timer, no sleep: the loop waits in ``select`` until a socket is ready, another thread
queues a message (a :class:`~tcpbridge.net.transport.Waker` wakes it), or the session's next
deadline.  Events are passed to the ``on_event`` callback *in the engine thread*; the plugins turn
them into Qt signals.  Whatever goes wrong with one connection closes that connection only; if the
loop itself ever fails, :class:`~tcpbridge.protocol.events.EngineStopped` says so.
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import os
import selectors
import socket
import ssl
import threading
import time
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, Union, cast

from ..protocol.connection_state import ConnectionState
from ..protocol.errors import connection_lost_reason
from ..protocol.events import (
    ClientInfo,
    ClientRefused,
    ConnectFailed,
    EngineStopped,
    Event,
    MessageReceived,
)
from ..protocol.messages import ACTUATOR, Message
from ..protocol.requests import Expected
from ..protocol.server_session import ServerSession, SessionConfig
from .backlog import BacklogLimits, DeliveryBacklog
from .low_water import ReceiveLowWater
from .tls import handshake_problem
from .transport import DEAD_LINK_S, Waker, close_quietly, configure, format_address, keepalive_times, listen

log = logging.getLogger('tcpbridge.server')
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
#: connect mode: first and longest wait between attempts to reach the instrument (doubling), seconds
REDIAL_DELAYS = (0.5, 10.0)
#: the engine's select returns at least this often (seconds), so that a caller of
#: :meth:`BridgeServer.send` need not wake it for a reply deadline further away than that
MAX_WAIT_S = 1.0
#: seconds a refused connection is kept after its refusal notice, reading what the client still
#: sends, so that closing does not reset the connection before the client read the notice
LINGER_S = 2.0


def sock_peer(sock: socket.socket) -> str:
    """``host:port`` of the other end, or ``'?'`` if the connection is already gone."""
    try:
        return format_address(sock.getpeername()[:2])
    except OSError:
        return '?'


def os_message(code: int) -> str:
    """``'ECONNREFUSED (Connection refused)'`` for an errno value."""
    return f'{errno.errorcode.get(code, code)} ({os.strerror(code)})'


def parse_allowed(entries: Optional[Sequence[str]]) -> List[Network]:
    """Client addresses or networks (``'192.168.1.0/24'``, ``'10.0.0.5'``, ``'::1'``) as networks.

    Raises:
        ValueError: an entry that is empty (e.g. ``'a,,b'`` split on commas) or not an address or
            network; a list made only of separators is an error, not "any".
    """
    if not entries:
        return []
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            raise ValueError(f'empty entry in the allowed clients {list(entries)!r}')
        networks.append(ipaddress.ip_network(text, strict=False))
    return networks


#: the selector data of a refused connection kept open for its refusal notice (_linger)
_LINGERING = object()


class BridgeServer:
    """Listens on ``host:port`` for clients of type ``client_type`` ('GRABBER' or 'ACTUATOR'), or
    with ``dial``, connects to an instrument listening there.

    Args:
        host / port: where to listen (port 0: the OS chooses, see :attr:`address`); with ``dial``:
            the instrument's address.
        client_type: the only type accepted.
        tls: serve TLS with this context (see :func:`tcpbridge.net.tls.server_context`; with ``dial``,
            a client context, :func:`~tcpbridge.net.tls.client_context`); a failed handshake closes
            that connection with the reason (:func:`~tcpbridge.net.tls.handshake_problem`).  None:
            plain TCP.
        dial: connect to ``host:port`` (again after each loss or failure, waiting
            :data:`REDIAL_DELAYS`; each failure is reported as a
            :class:`~tcpbridge.protocol.events.ConnectFailed`) instead of listening.
        on_event: called with each :class:`~tcpbridge.protocol.events.Event`, in the engine
            thread; must not block (exceptions it raises are logged and ignored).
        allowed: client addresses or networks accepted (see :func:`parse_allowed`); None or
            empty: any.  Others are refused at once, with the reason reported.
        backlog: back-pressure (:mod:`tcpbridge.net.backlog`): each
            :class:`~tcpbridge.protocol.events.MessageReceived` then carries a ``release`` that
            ``on_event``'s side must call once its data are no longer held, and the client in control
            is not read while more than these bounds are unreleased (its deadlines wait meanwhile).
            None: no bound, no ``release``.
        dead_link_s: a client that neither answers keepalive probes nor acknowledges what it is sent
            for this long (s, >= 2) is lost (:func:`~tcpbridge.net.transport.configure`), with the reason.
        **policies: the fields of :class:`~tcpbridge.protocol.server_session.SessionConfig` (dialect,
            limits, budget_bytes, hello_timeout, max_clients, max_handshaking, message_timeout,
            min_rate, max_queued_bytes, probe_position, probe_timeout, auth_secret,
            max_auth_failures).

    Raises:
        OSError: the address cannot be listened on (in use, not local...); never with ``dial``.
        ValueError: an entry of ``allowed``, or a policy, is invalid.
    """

    def __init__(self, host: str, port: int, client_type: str, on_event: Callable[[Event], None], *,
                 dial: bool = False, tls: Optional[ssl.SSLContext] = None, allowed: Optional[Sequence[str]] = None,
                 backlog: Optional[BacklogLimits] = None, dead_link_s: float = DEAD_LINK_S,
                 **policies: object) -> None:
        keepalive_times(dead_link_s)  # ValueError now rather than at the first connection
        self.dead_link_s = dead_link_s
        policies.setdefault('probe_position', client_type == ACTUATOR)
        self.config = SessionConfig(client_type=client_type, **policies)  # type: ignore[arg-type]
        self.client_type = client_type
        self.allowed = parse_allowed(allowed)
        self.on_event = on_event
        self._session = ServerSession(self.config)
        self._selector = selectors.DefaultSelector()
        self.dial = dial
        self.tls = tls
        self._handshaking: Dict[int, int] = {}  # cid -> the selector events its TLS handshake waits for
        self._lingering: Dict[socket.socket, float] = {}  # refused sockets -> when they are closed anyway
        self._tls_refused: Set[int] = set()  # cids whose TLS handshake failed: their alert must reach the client
        self._listener: Optional[socket.socket] = None
        self._dialing: Optional[socket.socket] = None
        self._dial_at: Optional[float] = time.monotonic() if dial else None
        self._redial_delay = REDIAL_DELAYS[0]
        if dial:
            self.address: Tuple[str, int] = (host, port)
        else:
            self._listener = listen(host, port)
            self._listener.setblocking(False)
            self.address = self._listener.getsockname()[:2]
            self._selector.register(self._listener, selectors.EVENT_READ)
        self._waker = Waker()
        self._selector.register(self._waker.reader, selectors.EVENT_READ)
        self._backlog = DeliveryBacklog(backlog, self._waker.wake) if backlog is not None else None
        self._lock = threading.Lock()
        self._sockets: Dict[int, socket.socket] = {}
        self._low_water: Dict[int, ReceiveLowWater] = {}  # cid -> its SO_RCVLOWAT, kept by _read
        self._mask: Dict[int, int] = {}  # cid -> the selector events watched (0: unregistered)
        self._closing = False
        self._wakes_at = 0.0  # time.monotonic() by which the engine's select returns by itself (lock held)
        self.stopped_by: Optional[str] = None
        self._thread = threading.Thread(target=self._loop, name=f'tcpbridge-server-{self.address[1]}',
                                        daemon=True)
        self._thread.start()
        log.info('%s %s for %s clients', 'connecting to' if dial else 'listening on', format_address(self.address),
                 client_type)

    # -- API for the plugin (any thread) ------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the engine thread serves."""
        return self._thread.is_alive() and not self._closing

    @property
    def clients(self) -> List[ClientInfo]:
        """Snapshot of every connection, oldest first."""
        with self._lock:
            return self._session.clients

    @property
    def controller(self) -> Optional[ClientInfo]:
        """The client in control (it receives the commands), or None."""
        with self._lock:
            return self._session.controller

    @property
    def auth_failures(self) -> Dict[str, int]:
        """Failed authentications per client host within the last minute (see
        :meth:`~tcpbridge.protocol.server_session.ServerSession.auth_failures`)."""
        with self._lock:
            return self._session.auth_failures(time.monotonic())

    @property
    def backlog(self) -> Optional[Tuple[int, int, bool]]:
        """(messages, bytes) delivered and not released, and whether reading is paused for them;
        None without a ``backlog`` bound."""
        if self._backlog is None:
            return None
        return (*self._backlog.held, self._backlog.over)

    def reading_paused_within(self, seconds: float) -> bool:
        """True if reading the client in control is paused for the backlog, or was less than ``seconds``
        ago (what it sent meanwhile is still coming: it is not silent); False without a backlog bound."""
        return self._backlog is not None and self._backlog.paused_within(seconds)

    @property
    def budget_used(self) -> int:
        """Bytes of large fields being received now, across connections."""
        return self._session.budget.used

    def send(self, message: Message, expect: Expected = (), timeout: Optional[float] = None) -> Optional[int]:
        """Queue ``message`` for the client in control, encoded in its dialect.

        Args:
            expect: the reply classes that settle it (e.g. ``(Done,)``); if none arrives within
                ``timeout`` seconds a :class:`~tcpbridge.protocol.events.ReplyTimeout` is reported and
                the connection is closed (a late reply must not answer a later request).
        Returns:
            The request id (from 1; the :class:`~tcpbridge.protocol.events.MessageReceived` that
            answers it carries it as ``request_id``), or None if nothing was queued: no client in
            control, or it was dropped because it does not read (a
            :class:`~tcpbridge.protocol.events.ClientLost` says so).
        Raises:
            EncodeError: the message cannot be encoded in that dialect.
        """
        with self._lock:
            request_id, events = self._session.send(message, time.monotonic(), expect, timeout)
            controller = self._session.controller
            if request_id is not None and controller is not None:
                self._write_through(controller.id)
            wake = self._engine_must_act()
        self._emit_all(events)
        if wake:  # a wake-up costs the caller a thread switch (~0.1-0.5 ms): only when needed
            self._waker.wake()
        return request_id

    def _engine_must_act(self) -> bool:
        """True if the engine must wake before its select returns by itself: bytes wait to be sent (it
        watches for writability), the session closed a connection, or a deadline comes before the
        engine's wake-up time (lock held)."""
        if self._session.has_closed or self._session.writes_pending:
            return True
        deadline = self._session.next_deadline()
        return deadline is not None and deadline < self._wakes_at

    def _write_through(self, cid: int) -> None:
        """Send what is queued for ``cid`` now, from the caller's thread, as far as the socket takes it
        without blocking (a command is on the wire before the engine thread even wakes).  Errors and
        the rest are left to the engine; TLS connections are written by the engine thread only.
        Called with the lock held."""
        sock = self._sockets.get(cid)
        if sock is None or cid in self._handshaking or isinstance(sock, ssl.SSLSocket):
            return
        try:
            self._session.data_sent(cid, sock.sendmsg(self._session.views(cid)))
        except OSError:  # would block, or the connection is gone: the engine sees it on its next write
            pass

    def close(self, timeout: float = 5.0) -> None:
        """Close every socket and stop the thread; the port can be listened on again at once."""
        self._closing = True
        self._waker.wake()
        self._thread.join(timeout)

    # -- engine thread ------------------------------------------------------------------------------
    def _emit_all(self, events: List[Event]) -> None:
        for event in events:
            if self._backlog is not None and isinstance(event, MessageReceived):
                event = replace(event, release=self._backlog.hold(event.nbytes, time.monotonic()))
            try:
                self.on_event(event)
            except Exception:
                log.exception('event handler failed on %s', type(event).__name__)

    def _loop(self) -> None:
        try:
            while not self._closing:
                with self._lock:  # a send() sees either this wake-up time or the request it adds is counted here
                    deadline = self._session.next_deadline()
                    now = time.monotonic()
                    self._wakes_at = now + MAX_WAIT_S if deadline is None else min(deadline, now + MAX_WAIT_S)
                self._linger_expire()
                for moment in (self._dial_at, self._backlog_expiry(), min(self._lingering.values(), default=None)):
                    if moment is not None:
                        deadline = moment if deadline is None else min(deadline, moment)
                timeout = MAX_WAIT_S if deadline is None else min(MAX_WAIT_S, max(0.0, deadline - time.monotonic()))
                for key, mask in self._selector.select(timeout):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._dialing:
                        self._dial_completed()
                    elif key.fileobj is self._waker.reader:
                        self._waker.drain()
                    elif key.data is _LINGERING:
                        self._linger_read(cast(socket.socket, key.fileobj))
                    elif key.data in self._handshaking:
                        self._handshake(key.data)
                    else:
                        if mask & selectors.EVENT_READ:
                            self._read(key.data)
                        if mask & selectors.EVENT_WRITE:
                            self._write(key.data)
                with self._lock:
                    events = self._session.check_deadlines(time.monotonic())
                self._emit_all(events)
                self._sync_sockets()
                if self._dial_at is not None and time.monotonic() >= self._dial_at:
                    self._dial_start()
        except Exception as error:  # a bug of the loop itself: say so, never stop silently
            log.exception('server engine stopped by an error')
            self.stopped_by = f'{type(error).__name__}: {error}'
        finally:
            self._shutdown()
        if self.stopped_by is not None:
            self._emit_all([EngineStopped(self.stopped_by)])

    def _backlog_expiry(self) -> Optional[float]:
        """End the holds of the backlog that are too old; when the next one ends (None: none held)."""
        if self._backlog is None:
            return None
        return self._backlog.expire(time.monotonic())

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, address = self._listener.accept()
        except OSError:
            return
        peer = format_address(address)
        if self.allowed and not self._is_allowed(address[0]):
            close_quietly(sock)
            reason = (f'{address[0]} is not among the allowed clients '
                      f'({", ".join(str(n) for n in self.allowed)})')
            log.warning('client %s refused: %s', peer, reason)
            self._emit_all([ClientRefused(peer, reason)])
            return
        self._adopt(sock, peer)

    def _dial_start(self) -> None:
        """Connect mode: begin a non-blocking connection to the instrument."""
        self._dial_at = None
        host, port = self.address
        try:
            family, kind, proto, _, target = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
        except OSError as error:
            self._dial_failed(error.strerror or str(error))
            return
        sock.setblocking(False)
        code = sock.connect_ex(target)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            self._dial_failed(os_message(code))
            return
        self._dialing = sock
        self._selector.register(sock, selectors.EVENT_WRITE)

    def _dial_completed(self) -> None:
        sock, self._dialing = self._dialing, None
        assert sock is not None
        self._selector.unregister(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            sock.close()
            self._dial_failed(os_message(code))
            return
        self._redial_delay = REDIAL_DELAYS[0]
        log.info('connected to the instrument at %s', format_address(self.address))
        self._adopt(sock, format_address(self.address))

    def _dial_failed(self, reason: str) -> None:
        retry_in = self._redial_delay
        self._redial_delay = min(self._redial_delay * 2, REDIAL_DELAYS[1])
        self._dial_at = time.monotonic() + retry_in
        log.debug('cannot reach %s: %s; again in %g s', format_address(self.address), reason, retry_in)
        self._emit_all([ConnectFailed(format_address(self.address), reason, retry_in)])

    def _adopt(self, sock: socket.socket, peer: str) -> None:
        """Serve a new connection (accepted, or dialled in connect mode)."""
        try:
            configure(sock, self.dead_link_s)
            sock.setblocking(False)
            if self.tls is not None:  # the handshake is driven by the loop (_handshake)
                sock = self.tls.wrap_socket(sock, server_side=not self.dial, do_handshake_on_connect=False,
                                            server_hostname=self.address[0] if self.dial else None)
        except OSError:  # the peer reset the connection already
            close_quietly(sock)
            if self.dial:
                self._dial_failed('connection reset at once')
            return
        with self._lock:
            cid, events = self._session.connection_made(peer, time.monotonic())
            self._sockets[cid] = sock
            self._low_water[cid] = ReceiveLowWater(sock)
            self._mask[cid] = 0
        self._watch(cid, sock, selectors.EVENT_READ)
        self._emit_all(events)
        log.debug('connection from %s', peer)
        if self.tls is not None:
            self._handshaking[cid] = selectors.EVENT_READ
            self._handshake(cid)

    def _handshake(self, cid: int) -> None:
        """One step of a TLS handshake (the session's hello deadline bounds the whole of it)."""
        sock = self._sockets.get(cid)
        if sock is None:
            self._handshaking.pop(cid, None)
            return
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            want = selectors.EVENT_READ
        except ssl.SSLWantWriteError:
            want = selectors.EVENT_WRITE
        except OSError as error:  # ssl.SSLError included
            self._handshaking.pop(cid, None)
            self._tls_refused.add(cid)
            reason = handshake_problem(error)
            log.warning('TLS handshake with %s failed: %s', sock_peer(sock), reason)
            with self._lock:
                events = self._session.connection_lost(cid, reason, time.monotonic())
            self._emit_all(events)
            return
        else:
            del self._handshaking[cid]
            self._watch(cid, sock, selectors.EVENT_READ)
            log.debug('TLS %s with %s', sock.version(), sock_peer(sock))
            if sock.pending():  # the client's first bytes came with the handshake
                self._read(cid)
            return
        if want != self._handshaking[cid]:
            self._handshaking[cid] = want
            self._watch(cid, sock, want)

    def _is_allowed(self, host: str) -> bool:
        ip = ipaddress.ip_address(host.split('%', 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # an IPv4 client of a dual-stack socket
        return any(ip in network for network in self.allowed)

    def _read(self, cid: int) -> None:
        """Hand over the messages of ``cid`` the backlog held back, then receive once (TLS: as long as
        decrypted bytes remain), unless the backlog is full; returns with none held back unless the
        backlog is full (its resumption wakes the loop)."""
        while self._deliver_held_back(cid):
            sock = self._sockets.get(cid)
            if sock is None:
                return
            nbytes, error = 0, None
            with self._lock:
                try:
                    nbytes = sock.recv_into(self._session.receive_buffer(cid))
                except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    return
                except Exception as problem:  # socket error, or the decoder cannot take more
                    error = problem
                events = self._session.bytes_received(cid, nbytes, time.monotonic(), error, self._room(cid))
                missing = self._session.field_missing(cid)
            self._low_water[cid].follow(missing)  # a large field is read once much of it came
            self._emit_all(events)
            if error is not None or nbytes == 0:
                return
            # messages held back (their room was taken meanwhile by releases: the backlog may not be full)
            # are handed over now, else nothing would wake the loop for them; TLS keeps decrypted bytes
            # that select() does not see: read them now (or on resuming)
            if not self._session.pending(cid) and (not isinstance(sock, ssl.SSLSocket) or not sock.pending()):
                return

    def _deliver_held_back(self, cid: int) -> bool:
        """Hand over the messages of ``cid`` completed but held back while the backlog had no room;
        returns whether ``cid`` may be read (False: the backlog is full)."""
        while True:
            with self._lock:
                room = self._room(cid)
                if room == 0:
                    return False
                if not self._session.pending(cid):
                    return True
                events = self._session.deliver_pending(cid, time.monotonic(), room)
            self._emit_all(events)

    def _room(self, cid: int) -> Optional[int]:
        """How many messages of ``cid`` may be handed over now (None: no bound): the backlog bounds the
        client in control, and a client before its hello (which may put it in control), though never
        to none, as it is not paused (lock held)."""
        if self._backlog is None:
            return None
        state = self._session.role(cid)
        if state is ConnectionState.IN_CONTROL:
            return self._backlog.room()
        return max(1, self._backlog.room()) if state is not None and not state.said_hello else None

    def _paused_cid(self) -> Optional[int]:
        """The connection not read for the backlog: the client in control while the backlog is over
        its bounds, else None (lock held)."""
        if self._backlog is None or not self._backlog.over:
            return None
        controller = self._session.controller
        return None if controller is None else controller.id

    def _write(self, cid: int) -> None:
        sock = self._sockets.get(cid)
        if sock is None:
            return
        events: List[Event] = []
        with self._lock:
            try:
                views = self._session.views(cid)
                # an SSLSocket has no sendmsg: one buffer at a time (each may be large)
                sent = sock.send(views[0]) if isinstance(sock, ssl.SSLSocket) else sock.sendmsg(views)
                self._session.data_sent(cid, sent)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except OSError as error:
                events = self._session.connection_lost(cid, f'while sending, {connection_lost_reason(error)}',
                                                       time.monotonic())
        self._emit_all(events)

    def _sync_sockets(self) -> None:
        """Close what the session closed; watch for writability where bytes wait, for readability
        unless reading is paused for the backlog (then the messages held back, and TLS bytes already
        decrypted, are handed over on resuming)."""
        resumed = []  # messages held back, or TLS bytes decrypted, waiting for the end of a pause
        with self._lock:
            now = time.monotonic()
            for cid in self._session.pop_closed():
                sock = self._sockets.pop(cid, None)
                self._low_water.pop(cid, None)
                mask = self._mask.pop(cid, 0)
                self._handshaking.pop(cid, None)
                farewell = self._session.farewell(cid)
                tls_refused = cid in self._tls_refused
                self._tls_refused.discard(cid)
                if sock is not None:
                    if mask:
                        self._selector.unregister(sock)
                    if (farewell or tls_refused) and not self._closing:
                        self._linger(sock, farewell)
                    else:
                        close_quietly(sock)
                if self.dial and not self._closing:  # the instrument's connection ended: dial again
                    self._dial_at = time.monotonic() + self._redial_delay
            paused_cid = self._paused_cid()
            for cid, sock in self._sockets.items():
                if cid in self._handshaking:
                    continue
                paused = cid == paused_cid
                self._session.set_reading_paused(cid, paused, now)
                mask = (0 if paused else selectors.EVENT_READ) | \
                    (selectors.EVENT_WRITE if self._session.wants_write(cid) else 0)
                if not paused and (self._session.pending(cid) or not self._mask[cid] & selectors.EVENT_READ
                                   and isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    resumed.append(cid)
                self._watch(cid, sock, mask)
        for cid in resumed:
            self._read(cid)

    def _linger(self, sock: socket.socket, farewell: list) -> None:
        """Send a refused client its notice (a few hundred bytes: the socket buffer takes them at
        once, else what fits; none after a failed TLS handshake, whose alert is the notice), stop
        writing, and keep reading (discarding) until the client closes or ``LINGER_S`` pass: a close
        with unread bytes would reset the connection and could destroy the notice before the client
        read it."""
        try:
            if not farewell:  # a failed TLS handshake: OpenSSL sent its alert already
                pass
            elif isinstance(sock, ssl.SSLSocket):  # no sendmsg
                sock.send(b''.join(bytes(b) for b in farewell))
            else:
                sock.sendmsg(farewell)
            sock.shutdown(socket.SHUT_WR)
            self._selector.register(sock, selectors.EVENT_READ, _LINGERING)
        except OSError:  # ssl.SSLWantWriteError included: it gets no notice
            close_quietly(sock)
            return
        self._lingering[sock] = time.monotonic() + LINGER_S

    def _linger_read(self, sock: socket.socket) -> None:
        """A refused connection sent something (or its end): discard it; close at its end."""
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            pass
        self._unlinger(sock)

    def _linger_expire(self) -> None:
        now = time.monotonic()
        for sock in [s for s, until in self._lingering.items() if until <= now]:
            self._unlinger(sock)

    def _unlinger(self, sock: socket.socket) -> None:
        self._lingering.pop(sock, None)
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        close_quietly(sock)

    def _watch(self, cid: int, sock: socket.socket, mask: int) -> None:
        """Make the selector watch ``sock`` for ``mask`` (0: not at all)."""
        before = self._mask[cid]
        if mask == before:
            return
        if not mask:
            self._selector.unregister(sock)
        elif not before:
            self._selector.register(sock, mask, cid)
        else:
            self._selector.modify(sock, mask, cid)
        self._mask[cid] = mask

    def _shutdown(self) -> None:
        with self._lock:
            self._session.close_all()
        self._sync_sockets()
        for refused in list(self._lingering):
            self._unlinger(refused)
        for sock in (self._listener, self._dialing, self._waker.reader):
            if sock is None:
                continue
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        self._waker.close()
        self._selector.close()
        self._closing = True
        log.info('server %s %s closed', 'connecting to' if self.dial else 'on', format_address(self.address))
