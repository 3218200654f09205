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

import logging
import selectors
import socket
import ssl
import threading
import time
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, cast

from ..protocol.errors import connection_lost_reason
from ..protocol.events import (
    ClientInfo,
    ClientRefused,
    EngineStopped,
    Event,
    MessageReceived,
)
from ..protocol.messages import ACTUATOR, Message
from ..protocol.requests import Expected
from ..protocol.server_session import ServerSession, SessionConfig
from .allowed import parse_allowed, refusal
from .backlog import BacklogLimits, DeliveryBacklog
from .dialer import Dialer
from .linger import LINGERING, Lingering
from .low_water import ReceiveLowWater
from .tls import handshake_problem, handshake_step
from .transport import DEAD_LINK_S, Waker, close_quietly, configure, format_address, keepalive_times, listen, sock_peer

log = logging.getLogger('tcpbridge.server')
#: the engine's select returns at least this often (seconds), so that a caller of
#: :meth:`BridgeServer.send` need not wake it for a reply deadline further away than that
MAX_WAIT_S = 1.0


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
            :data:`~tcpbridge.net.dialer.REDIAL_DELAYS`; each failure is reported as a
            :class:`~tcpbridge.protocol.events.ConnectFailed`) instead of listening.
        on_event: called with each :class:`~tcpbridge.protocol.events.Event`, in the engine
            thread; must not block (exceptions it raises are logged and ignored).
        allowed: client addresses or networks accepted (see :func:`~tcpbridge.net.allowed.parse_allowed`); None or
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
        self._selector: selectors.BaseSelector = selectors.DefaultSelector()
        self.dial = dial
        self.tls = tls
        self._handshaking: Dict[int, int] = {}  # cid -> the selector events its TLS handshake waits for
        self._lingering = Lingering(self._selector)  # refused sockets, until their notice is read
        self._tls_refused: Set[int] = set()  # cids whose TLS handshake failed: their alert must reach the client
        self._listener: Optional[socket.socket] = None
        self._dialer: Optional[Dialer] = None
        if dial:
            self.address: Tuple[str, int] = (host, port)
            self._dialer = Dialer(self.address, self._selector)
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
    def in_control(self) -> Optional[ClientInfo]:
        """The client in control (it receives the commands), or None."""
        with self._lock:
            return self._session.in_control

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
            in_control = self._session.in_control
            if request_id is not None and in_control is not None:
                self._write_through(in_control.id)
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
    def _emit_all(self, events: Sequence[Event]) -> None:
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
                dial_at = None if self._dialer is None else self._dialer.due_at
                backlog_at = None if self._backlog is None else self._backlog.expire(time.monotonic())
                for moment in (dial_at, backlog_at, self._lingering.expire(time.monotonic())):
                    if moment is not None:
                        deadline = moment if deadline is None else min(deadline, moment)
                timeout = MAX_WAIT_S if deadline is None else min(MAX_WAIT_S, max(0.0, deadline - time.monotonic()))
                for key, mask in self._selector.select(timeout):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif self._dialer is not None and key.fileobj is self._dialer.connecting:
                        self._dial_completed()
                    elif key.fileobj is self._waker.reader:
                        self._waker.drain()
                    elif key.data is LINGERING:
                        self._lingering.read(cast(socket.socket, key.fileobj))
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
                if self._dialer is not None:
                    self._emit_all(self._dialer.start_if_due())
        except Exception as error:  # a bug of the loop itself: say so, never stop silently
            log.exception('server engine stopped by an error')
            self.stopped_by = f'{type(error).__name__}: {error}'
        finally:
            self._shutdown()
        if self.stopped_by is not None:
            self._emit_all([EngineStopped(self.stopped_by)])

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, address = self._listener.accept()
        except OSError:
            return
        peer = format_address(address)
        reason = refusal(address[0], self.allowed)
        if reason:
            close_quietly(sock)
            log.warning('client %s refused: %s', peer, reason)
            self._emit_all([ClientRefused(peer, reason)])
            return
        self._adopt(sock, peer)

    def _dial_completed(self) -> None:
        assert self._dialer is not None
        sock, failure = self._dialer.completed()
        if failure is not None:
            self._emit_all([failure])
        elif sock is not None:
            self._adopt(sock, self._dialer.peer)

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
            if self._dialer is not None:
                self._emit_all([self._dialer.failed('connection reset at once')])
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
            want = handshake_step(sock)
        except OSError as error:  # ssl.SSLError included
            self._handshaking.pop(cid, None)
            self._tls_refused.add(cid)
            reason = handshake_problem(error)
            log.warning('TLS handshake with %s failed: %s', sock_peer(sock), reason)
            with self._lock:
                events = self._session.connection_lost(cid, reason, time.monotonic())
            self._emit_all(events)
            return
        if not want:
            del self._handshaking[cid]
            self._watch(cid, sock, selectors.EVENT_READ)
            log.debug('TLS %s with %s', sock.version(), sock_peer(sock))
            if sock.pending():  # the client's first bytes came with the handshake
                self._read(cid)
        elif want != self._handshaking[cid]:
            self._handshaking[cid] = want
            self._watch(cid, sock, want)

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
        """How many messages of ``cid`` may be handed over now (None: no bound; lock held)."""
        return None if self._backlog is None else self._backlog.room_for(self._session.state(cid))

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
                        self._lingering.add(sock, farewell)
                    else:
                        close_quietly(sock)
                if self._dialer is not None and not self._closing:  # the instrument's connection ended
                    self._dialer.connection_ended()
            # not read for the backlog: the client in control while the backlog is over its bounds
            in_control = self._session.in_control if self._backlog is not None and self._backlog.over else None
            paused_cid = None if in_control is None else in_control.id
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
        self._lingering.close_all()
        if self._dialer is not None:
            self._dialer.close()
        for sock in (self._listener, self._waker.reader):
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
