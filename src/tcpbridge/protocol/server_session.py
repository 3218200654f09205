"""The server's rules, without I/O (as h11's and caproto's connection objects): which connections
exist, what each has said, who is in control, what is awaited, and what must be sent or closed.

The I/O loop (:mod:`tcpbridge.net.server`) owns the sockets and the clock.  It tells a
:class:`ServerSession` what happened (:meth:`~ServerSession.connection_made`, bytes received into
:meth:`~ServerSession.receive_buffer`, :meth:`~ServerSession.data_sent`, the time) and carries out
what the session returns: events for the plugin, bytes to send (:meth:`~ServerSession.views`),
connections to close (:meth:`~ServerSession.pop_closed`).  Every rule is therefore testable with
bytes and timestamps alone.

The policies are :class:`~tcpbridge.protocol.session_config.SessionConfig`'s; the state of each
connection is a :class:`~tcpbridge.protocol.connection_state.ConnectionState`, changed only through
its transition table.

*Fault barrier*: anything that goes wrong while decoding or handling one connection's bytes closes
that connection only, with the cause in a :class:`~tcpbridge.protocol.events.ClientLost` /
:class:`~tcpbridge.protocol.events.ClientRefused`.
"""
from __future__ import annotations

import itertools
import logging
import time
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .auth import AUTH_WINDOW_S, FailedAuthentications, new_nonce, verify
from .connection import Connection
from .connection_state import ConnectionState, Transition, next_state
from .decoder import Decoder, Side
from .dialects import Dialect
from .encoder import Encoder
from .errors import ProtocolError, connection_lost_reason
from .events import (
    ClientConnected,
    ClientInfo,
    ClientLost,
    ClientRefused,
    ControlChanged,
    DialectDetected,
    Event,
    MessageReceived,
    ReplyTimeout,
)
from .limits import ReceiveBudget
from .messages import (
    ACTUATOR,
    OBSERVER,
    Accepted,
    AuthChallenge,
    AuthRequest,
    AuthResponse,
    CheckPosition,
    ClientType,
    Done,
    Infos,
    InfoXml,
    Message,
    PositionIs,
    PositionMessage,
    Quit,
    Refused,
    StatusRequest,
    command_string,
)
from .observers import ObserverFanOut
from .requests import Expected, Request, expected_commands
from .session_config import SessionConfig

log = logging.getLogger('tcpbridge.session')


class ServerSession:
    """The sans-I/O state of a server accepting ``config.client_type`` clients.

    Not thread-safe: the I/O loop calls it under its own lock.  ``wall_clock`` gives the
    ``time.time()`` shown in :class:`ClientInfo` (the deadlines use the ``now`` passed in).
    """

    def __init__(self, config: SessionConfig, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.budget = ReceiveBudget(config.budget_bytes or 2 * config.limits.max_payload_bytes)
        self._wall_clock = wall_clock
        self._connections: Dict[int, Connection] = {}
        self._closed: List[int] = []
        self._farewells: Dict[int, list] = {}  # cid -> the refusal notice to send before closing it
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._now = 0.0  # the ``now`` of the input being handled
        self._auth_failures = FailedAuthentications(config.max_auth_failures)
        self._observers = ObserverFanOut(config.max_observers, config.observer_queue_bytes)

    # -- queries ------------------------------------------------------------------------------------
    @property
    def clients(self) -> List[ClientInfo]:
        """Every connection, oldest first."""
        return [c.info for c in self._connections.values()]

    @property
    def in_control(self) -> Optional[ClientInfo]:
        """The client in control, or None."""
        conn = self._in_control()
        return conn.info if conn else None

    def state(self, cid: int) -> Optional[ConnectionState]:
        """The state of connection ``cid`` (its :attr:`~tcpbridge.protocol.events.ClientInfo.role`),
        None if there is no such connection."""
        conn = self._connections.get(cid)
        return None if conn is None else conn.info.role

    def wants_write(self, cid: int) -> bool:
        """True if connection ``cid`` has bytes waiting to be sent."""
        conn = self._connections.get(cid)
        return bool(conn and conn.out)

    def views(self, cid: int) -> List[memoryview]:
        """Buffers to send on connection ``cid`` (one ``sendmsg``)."""
        conn = self._connections.get(cid)
        return conn.out.views() if conn else []

    @property
    def writes_pending(self) -> bool:
        """True if any connection has bytes waiting to be sent."""
        return any(conn.out for conn in self._connections.values())

    @property
    def has_closed(self) -> bool:
        """True if connections were closed since the last :meth:`pop_closed`."""
        return bool(self._closed)

    def pop_closed(self) -> List[int]:
        """Connections the session has closed since the last call: close their sockets (after
        sending their :meth:`farewell`, if any)."""
        closed, self._closed = self._closed, []
        return closed

    def farewell(self, cid: int) -> list:
        """The last bytes for a connection :meth:`pop_closed` returned: the refusal notice of a client
        refused after its hello (docs/protocol.rst §9.4), else nothing.  Send them, stop writing,
        and read what the client still sends until it closes (a close with unread bytes would reset
        the connection, and the client could lose the notice); once only."""
        return self._farewells.pop(cid, [])

    def next_deadline(self) -> Optional[float]:
        """The earliest time at which :meth:`check_deadlines` has something to do, or None."""
        deadlines = (conn.next_deadline(self.config) for conn in self._connections.values())
        return min((d for d in deadlines if d is not None), default=None)

    # -- inputs -------------------------------------------------------------------------------------
    def connection_made(self, peer: str, now: float) -> Tuple[int, List[Event]]:
        """A connection was accepted from ``peer``: returns its id and the events (an eviction)."""
        self._now = now
        events: List[Event] = []
        handshaking = [c for c in self._connections.values() if not c.state.said_hello]
        if len(handshaking) >= self.config.max_handshaking:
            events += self._refuse(handshaking[0], f'{self.config.max_handshaking} connections were '
                                                   'still in the handshake: the oldest was dropped')
        info = ClientInfo(id=next(self._ids), peer=peer, connected_since=self._wall_clock())
        decoder = Decoder(Side.SERVER, self.config.waiting_limits, budget=self.budget)
        self._connections[info.id] = Connection(info, decoder, hello_deadline=now + self.config.hello_timeout)
        return info.id, events

    def receive_buffer(self, cid: int) -> memoryview:
        """Memory for the next bytes of connection ``cid`` (``recv_into``).

        Raises:
            ProtocolError: the decoder cannot take more (it failed before, or the budget is spent);
                report it with :meth:`bytes_received` ``(cid, 0, now, error)``.
        """
        return self._connections[cid].decoder.get_buffer()

    def bytes_received(self, cid: int, nbytes: int, now: float, error: Optional[BaseException] = None,
                       limit: Optional[int] = None) -> List[Event]:
        """``nbytes`` were written into the last :meth:`receive_buffer` of ``cid``; 0: the peer
        closed.  ``error``: receiving failed (a socket error, or the ProtocolError of
        :meth:`receive_buffer`).  ``limit``: handle at most this many of the messages completed (the
        others wait for :meth:`deliver_pending`; None: all).  Never raises: whatever goes wrong closes
        this connection only."""
        self._now = now
        conn = self._connections.get(cid)
        if conn is None:
            return []
        try:
            if error is not None:
                raise error
            if nbytes == 0:
                truncated = ' in the middle of a message' if conn.decoder.in_message else ''
                return self._lose(conn, f'connection closed by the client{truncated}')
            conn.bytes_arrived(nbytes, now)
            return self._handle_completed(conn, limit)
        except Exception as problem:
            return self._fault(conn, problem)

    def field_missing(self, cid: int) -> int:
        """Bytes still to come of the large field ``cid`` is receiving (0: none, or no such connection);
        see :attr:`~tcpbridge.protocol.decoder.Decoder.field_missing`."""
        conn = self._connections.get(cid)
        return 0 if conn is None else conn.decoder.field_missing

    def pending(self, cid: int) -> int:
        """Messages of ``cid`` completed and not handled yet (a ``limit`` held them back)."""
        conn = self._connections.get(cid)
        return 0 if conn is None else conn.decoder.pending

    def deliver_pending(self, cid: int, now: float, limit: Optional[int] = None) -> List[Event]:
        """Handle at most ``limit`` (None: all) of the :meth:`pending` messages of ``cid``.  Never
        raises: whatever goes wrong closes this connection only."""
        self._now = now
        conn = self._connections.get(cid)
        if conn is None:
            return []
        try:
            return self._handle_completed(conn, limit)
        except Exception as problem:
            return self._fault(conn, problem)

    def _handle_completed(self, conn: Connection, limit: Optional[int]) -> List[Event]:
        events: List[Event] = []
        for message, size in conn.decoder.pop_sized_messages(limit):
            if conn.info.id not in self._connections:
                break
            events += self._handle(conn, message, size)
        return events

    def _fault(self, conn: Connection, problem: Exception) -> List[Event]:
        """Close ``conn`` for what receiving or handling its bytes raised (the fault barrier: a bug
        must not reach the I/O loop)."""
        if isinstance(problem, ProtocolError):
            return self._lose(conn, f'protocol error, connection closed (the stream has no envelope, '
                                    f'it cannot be resynchronised): {problem}')
        if isinstance(problem, OSError):
            return self._lose(conn, connection_lost_reason(problem))
        log.error('while handling the bytes of %s', conn.info.peer, exc_info=problem)
        return self._lose(conn, f'internal error on this connection, closed: {problem!r}')

    def data_sent(self, cid: int, nbytes: int) -> None:
        """``nbytes`` of :meth:`views` went out on ``cid``."""
        conn = self._connections.get(cid)
        if conn is not None:
            conn.out.consume(nbytes)

    def connection_lost(self, cid: int, reason: str, now: float) -> List[Event]:
        """The I/O loop lost connection ``cid`` (a send failed...)."""
        self._now = now
        conn = self._connections.get(cid)
        return self._lose(conn, reason) if conn else []

    def send(self, message: Message, now: float, expect: Expected = (),
             timeout: Optional[float] = None) -> Tuple[Optional[int], List[Event]]:
        """Queue ``message`` for the client in control, in its dialect.

        Args:
            expect: the reply classes that settle it (e.g. ``(MoveDone,)``); if none comes within ``timeout`` s a
                :class:`ReplyTimeout` is reported (each request separately).
        Returns:
            (request id, events): id None when nothing was queued (no client in control, or it was
            dropped because it does not read).
        Raises:
            EncodeError: the message cannot be encoded in that dialect.
        """
        self._now = now
        conn = self._in_control()
        if conn is None:
            return None, []
        events = self._queue(conn, message)
        if events:
            return None, events
        request_id = next(self._request_ids)
        if expect and timeout is not None:
            conn.requests.add(Request(request_id, command_string(message), tuple(expect), now + timeout, now, timeout))
        return request_id, []

    def set_reading_paused(self, cid: int, paused: bool, now: float) -> None:
        """The I/O loop stops (``paused``) or resumes reading connection ``cid`` (back-pressure: what
        it delivered is not consumed yet).  Meanwhile the waits are ours, not the client's: its
        message deadline and its requests' reply deadlines stop, and resume shifted by the pause."""
        conn = self._connections.get(cid)
        if conn is not None:
            conn.set_paused(paused, now)

    def check_deadlines(self, now: float) -> List[Event]:
        """Close what overstayed and report late replies."""
        self._now = now
        events: List[Event] = []
        for conn in list(self._connections.values()):
            overstayed = conn.overstayed(now, self.config)
            if overstayed:  # before its hello: refused (_lose says so)
                events += self._lose(conn, overstayed)
                continue
            late = conn.requests.expire(now) if conn.paused_at is None else []
            in_control = conn.state is ConnectionState.IN_CONTROL
            if in_control:
                events += [ReplyTimeout(conn.info, r.command, r.expected, r.id) for r in late]
            strict = next((r for r in late if r.closes_on_timeout), None)
            if strict is not None and in_control:
                events += self._lose(conn, f'no {expected_commands(strict.expected)} within {strict.timeout:g} s after '
                                           f'{strict.command}: a late reply could be taken for the reply to a '
                                           'later request, so the connection is closed (the client reconnects clean)',
                                     # the waiting client heard from last: it is alive
                                     successor=max(self._in_state(ConnectionState.WAITING),
                                                   key=lambda c: c.info.last_seen, default=None))
        return events

    def close_all(self) -> None:
        """Forget every connection (the server stops); their ids go to :meth:`pop_closed`."""
        for conn in list(self._connections.values()):
            self._close(conn)

    # -- rules --------------------------------------------------------------------------------------
    def _in_control(self) -> Optional[Connection]:
        return next(self._in_state(ConnectionState.IN_CONTROL), None)

    def _in_state(self, state: ConnectionState) -> Iterator[Connection]:
        return (c for c in self._connections.values() if c.state is state)

    def _update(self, conn: Connection, **changes: Any) -> ClientInfo:
        conn.info = replace(conn.info, **changes)
        return conn.info

    def _move(self, conn: Connection, transition: Transition, **changes: Any) -> ClientInfo:
        """The only place a connection's state changes: through the transition table."""
        return self._update(conn, role=next_state(conn.state, transition), **changes)

    def _handle(self, conn: Connection, message: Message, size: int) -> List[Event]:
        if isinstance(message, ClientType):
            if not self.config.auth_secret:
                return self._hello(conn, message)
            refusal = self._auth_failures.refusal(conn.host, self._now)
            if refusal is not None:
                return self._refuse(conn, refusal)
            conn.hello = message  # it counts once the client has authenticated
            self._move(conn, Transition.HELLO_NEEDS_SECRET)
            return []
        if conn.state is ConnectionState.AUTHENTICATING:
            return self._authenticate(conn, message)
        if isinstance(message, (AuthRequest, AuthResponse)):  # offered, not required: accepted as it is
            if isinstance(message, AuthRequest):
                return self._queue(conn, AuthChallenge(new_nonce()))
            return []
        if isinstance(message, StatusRequest):  # docs/protocol.rst §9.4: the hello was accepted
            observing = conn.state is ConnectionState.OBSERVING
            return self._queue(conn, Accepted('observer' if observing else conn.state.value))
        info = self._update(conn, last_message=command_string(message), last_seen=self._wall_clock())
        if isinstance(message, Quit):
            return self._lose(conn, 'the client quit')
        if info.role is ConnectionState.OBSERVING:
            return self._lose(conn, f'an observer sends nothing but Quit; it sent {command_string(message)!r}')
        if isinstance(message, Infos):
            conn.infos_xml = message.xml
        events: List[Event] = []
        shown = message if isinstance(message, (Done, PositionMessage)) else None
        if shown is not None and shown.dialect is not None and \
                (shown.dialect is not info.dialect or shown.layout != info.layout):
            if self.config.dialect is not None and shown.dialect is not self.config.dialect:
                log.warning('client %s speaks %s but the plugin is set to %s: following the client',
                            info.peer, shown.dialect.value, self.config.dialect.value)
            info = self._update(conn, dialect=shown.dialect, layout=shown.layout)
            if info.role is ConnectionState.IN_CONTROL:
                events.append(DialectDetected(info))
        # received_at is that of the bytes completing the message (conn.received_at)
        settled = conn.requests.settle(message, conn.received_at)
        if info.role is ConnectionState.IN_CONTROL:
            events.append(MessageReceived(info, message, size, conn.received_at, settled.id if settled else 0))
            events += self._share(message)
        elif not isinstance(message, (Infos, InfoXml)):
            log.debug('%s from waiting client %s ignored', command_string(message), info.peer)
        return events

    # -- authentication (a tcpbridge extension, :mod:`tcpbridge.protocol.auth`) -----------------
    def _authenticate(self, conn: Connection, message: Message) -> List[Event]:
        assert conn.hello is not None
        if isinstance(message, AuthRequest) and conn.nonce is None:
            conn.nonce = new_nonce()
            return self._queue(conn, AuthChallenge(conn.nonce))
        if isinstance(message, AuthResponse) and conn.nonce is not None:
            if verify(self.config.auth_secret, conn.nonce, conn.hello.client_type, message.digest):
                log.info('client %s authenticated', conn.info.peer)
                return self._hello(conn, conn.hello)
            failures = self._auth_failures.record(conn.host, self._now)
            return self._refuse(conn, f'authentication failed: wrong shared secret ({failures} failure(s) from '
                                      f'{conn.host} within {AUTH_WINDOW_S:g} s)')
        return self._refuse(conn, f'this plugin requires authentication (a shared secret, see the auth_secret '
                                  f'setting): the client sent {command_string(message)!r} instead')

    def auth_failures(self, now: float) -> Dict[str, int]:
        """Failed authentications per client host within the last ``AUTH_WINDOW_S`` seconds (hosts
        with none are forgotten); at ``max_auth_failures`` a host is refused at its hello."""
        self._now = now
        return self._auth_failures.counts(now)

    # -- observers (a tcpbridge extension) -------------------------------------------------------
    def _observer_hello(self, conn: Connection) -> List[Event]:
        refusal = self._observers.refusal(sum(1 for _ in self._in_state(ConnectionState.OBSERVING)))
        if refusal is not None:
            return self._refuse(conn, refusal)
        conn.decoder.limits = self.config.waiting_limits
        info = self._move(conn, Transition.OBSERVE, client_type=OBSERVER, last_message=OBSERVER,
                          last_seen=self._wall_clock(), dialect=Dialect.PYMODAQ4)
        log.info('observer connected from %s', info.peer)
        return [ClientConnected(info)]

    def _share(self, message: Message) -> List[Event]:
        """A copy of the data or position of the client in control for every observer (:class:`ObserverFanOut`)."""
        observers = {c.id: c for c in self._in_state(ConnectionState.OBSERVING)}
        dropped = self._observers.share(message, {cid: c.out for cid, c in observers.items()})
        return [event for cid, reason in dropped for event in self._lose(observers[cid], reason)]

    def _hello(self, conn: Connection, hello: ClientType) -> List[Event]:
        conn.hello = hello  # its framing is known: a refusal can say why (_refuse)
        client_type = hello.client_type
        if client_type == OBSERVER and hello.dialect is None:
            return self._observer_hello(conn)
        if client_type != self.config.client_type:
            return self._refuse(conn, f'{client_type!r} is not a valid type here: this plugin accepts '
                                      f'{self.config.client_type} clients')
        events: List[Event] = []
        hello_done = [c for c in self._connections.values()
                      if c.state in (ConnectionState.IN_CONTROL, ConnectionState.WAITING)]
        if len(hello_done) >= self.config.max_clients:
            waiting = sorted(self._in_state(ConnectionState.WAITING), key=lambda c: c.info.last_seen)
            if not waiting:
                return self._refuse(conn, f'{self.config.max_clients} client(s) connected already')
            events += self._lose(waiting[0], f'{self.config.max_clients} clients connected: the waiting '
                                             'client silent for the longest time made room for a new one')
        transition = Transition.WAIT if self._in_control() else Transition.TAKE_CONTROL
        # a PyMoDAQ 5.0/5.1 hello fixes the dialect (its framing); classic ones show it later
        dialect = hello.dialect or self.config.dialect
        if hello.dialect is not None and self.config.dialect not in (None, hello.dialect):
            log.warning('client %s speaks %s but the plugin is set to %s: following the client',
                        conn.info.peer, hello.dialect.value, self.config.dialect.value)
        info = self._move(conn, transition, client_type=client_type, last_message=client_type,
                          last_seen=self._wall_clock(), dialect=dialect)
        log.info('%s client connected from %s (%s)', client_type, info.peer, info.role)
        events.append(ClientConnected(info))
        if info.role is ConnectionState.IN_CONTROL:
            if hello.dialect is not None:
                events.append(DialectDetected(info))
            events += self._take_control(conn)
        return events

    def _take_control(self, conn: Connection) -> List[Event]:
        conn.decoder.limits = self.config.limits
        if self.config.probe_position and self.config.client_type == ACTUATOR:
            # every client 3.0-5.1 answers check_position; the reply shows its dialect (docs/protocol.rst §6);
            # a PyMoDAQ 5.0/5.1 client reads only its own framing
            probe = Dialect.PYMODAQ5 if conn.info.dialect is Dialect.PYMODAQ5 else Dialect.LEGACY
            events = self._queue(conn, CheckPosition(), probe)
            conn.requests.add(Request(next(self._request_ids), CheckPosition.command, (PositionIs,),
                                      self._now + self.config.probe_timeout, self._now, self.config.probe_timeout,
                                      closes_on_timeout=False))
            return events
        return []

    def _queue(self, conn: Connection, message: Message, dialect: Optional[Dialect] = None) -> List[Event]:
        """Queue ``message`` in its dialect (or ``dialect``; EncodeError if not possible); drop a client not reading."""
        conn.out.push(Encoder(dialect).encode(message) if dialect else conn.encode(self.config.dialect, message))
        if conn.out.nbytes > self.config.max_queued_bytes:
            return self._lose(conn, f'the client does not read: {conn.out.nbytes} bytes waiting to be sent, '
                                    f'over the limit of {self.config.max_queued_bytes}')
        return []

    def _promote(self, conn: Connection, reason: str) -> List[Event]:
        info = self._move(conn, Transition.TAKE_CONTROL)
        log.info('waiting client %s takes control', info.peer)
        events: List[Event] = [ControlChanged(info, conn.infos_xml, reason)]
        if info.dialect is None or (self.config.dialect is not None and info.dialect is not Dialect.PYMODAQ5):
            events += self._take_control(conn)
        else:
            conn.decoder.limits = self.config.limits
        return events

    def _close(self, conn: Connection) -> None:
        if self._connections.pop(conn.id, None) is not None:
            self._move(conn, Transition.CLOSE)
            conn.decoder.close()
            conn.out.clear()
            self._closed.append(conn.id)

    def _refuse(self, conn: Connection, reason: str) -> List[Event]:
        if conn.hello is not None and conn.id in self._connections:  # it said hello: tell it why
            self._farewells[conn.id] = conn.encode(self.config.dialect, Refused(reason))
        self._close(conn)
        log.warning('client %s refused: %s', conn.info.peer, reason)
        return [ClientRefused(conn.info.peer, reason)]

    def _lose(self, conn: Connection, reason: str, successor: Optional[Connection] = None) -> List[Event]:
        """Close ``conn`` for ``reason``; if it was in control, ``successor`` (default: the oldest
        waiting client) takes control."""
        if conn.id not in self._connections:
            return []
        if not conn.state.said_hello:
            return self._refuse(conn, reason)
        info = conn.info  # as it was: the event says what was lost (e.g. the client in control)
        self._close(conn)
        log.info('client %s lost: %s', info.peer, reason)
        events: List[Event] = [ClientLost(info, reason)]
        if info.role is ConnectionState.IN_CONTROL:
            waiting = successor or next(self._in_state(ConnectionState.WAITING), None)
            events += self._promote(waiting, f'{info.peer} left: {reason}') if waiting else [ControlChanged(None)]
        return events
