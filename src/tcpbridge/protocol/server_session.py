"""The server's rules, without I/O (as h11's and caproto's connection objects): which connections
exist, what each has said, who is in control, what is awaited, and what must be sent or closed.

The I/O loop (:mod:`tcpbridge.net.server`) owns the sockets and the clock.  It tells a
:class:`ServerSession` what happened (:meth:`~ServerSession.connection_made`, bytes received into
:meth:`~ServerSession.receive_buffer`, :meth:`~ServerSession.data_sent`, the time) and carries out
what the session returns: events for the plugin, bytes to send (:meth:`~ServerSession.views`),
connections to close (:meth:`~ServerSession.pop_closed`).  Every rule is therefore testable with
bytes and timestamps alone.

Policies (docs/guide/limits.rst):

- *Handshake*: a new connection has ``hello_timeout`` s to send its type; at most
  ``max_handshaking`` connections may be in the handshake: a further one evicts the oldest, so
  silent connections can never keep a client that says hello from connecting.
- *Roles*: the first client of the accepted type is in control; later ones wait, are sent nothing,
  and their messages other than settings are ignored.  At most ``max_clients`` said hello: a
  further one evicts the waiting client that has been silent longest (never the one in control).
  When the one in control leaves, the oldest waiting client takes control; when it is closed for a
  request unanswered (below), the waiting client heard from last does (it is alive: a silent one
  would be closed next).
- *Pairing* (docs/protocol.rst §8): a reply settles the oldest request
  that awaits its command and was sent before the reply was received; :class:`MessageReceived` names
  that request (``request_id``; 0: the message answers none).  A request whose reply does not come
  in time closes the connection (a late reply could otherwise answer a later request): the client
  reconnects on a clean connection.  The dialect probe (a position report) is the exception.
- *Limits*: a client in control may send messages up to ``limits``; others up to
  ``waiting_limits`` (settings only).  Large fields are reserved from the shared ``budget``.
  A message in progress must end within ``message_timeout`` + its size / ``min_rate`` seconds.
- *Back-pressure*: a client with more than ``max_queued_bytes`` waiting to be sent is dropped at
  once (it does not read).
- *Fault barrier*: anything that goes wrong while decoding or handling one connection's bytes
  closes that connection only, with the cause in a :class:`ClientLost` / :class:`ClientRefused`.
"""
from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .auth import AUTH_WINDOW_S, FailedAuthentications, new_nonce, verify
from .buffers import OutQueue
from .connection_state import ConnectionState, Transition, next_state
from .decoder import Decoder, Role
from .dialects import Dialect, DwaLayout
from .encoder import Encoder
from .errors import ProtocolError, connection_lost_reason
from .events import (
    ClientConnected,
    ClientInfo,
    ClientLost,
    ClientRefused,
    ControllerChanged,
    DialectDetected,
    Event,
    MessageReceived,
    ReplyTimeout,
)
from .limits import DEFAULT_LIMITS, Limits, ReceiveBudget
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
from .requests import Expected, PendingRequests, Request, expected_commands

log = logging.getLogger('tcpbridge.session')

#: what a client that is not in control may send at once: its hello and its settings
WAITING_LIMITS = Limits(max_payload_bytes=4 << 20, max_string_bytes=4 << 20, max_list_length=4096)


@dataclass
class Connection:
    """The state of one connection (the session's; the I/O loop holds only its socket).  Its
    :class:`~tcpbridge.protocol.connection_state.ConnectionState` is ``info.role``."""

    info: ClientInfo
    decoder: Decoder
    hello_deadline: float
    out: OutQueue = field(default_factory=OutQueue)
    requests: PendingRequests = field(default_factory=PendingRequests)
    infos_xml: str = ''
    message_started: Optional[float] = None
    hello: Optional[ClientType] = None  # its hello (while authenticating: awaiting the proof)
    nonce: Optional[str] = None         # the challenge sent to it
    paused_at: Optional[float] = None   # reading paused by the I/O loop (back-pressure) since then
    received_at: float = 0.0            # the last receive (of the messages completed and not handled too)

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def state(self) -> ConnectionState:
        return self.info.role


@dataclass(frozen=True)
class SessionConfig:
    """The policies of a :class:`ServerSession` (see the module docstring).  Times in seconds.

    Raises:
        ValueError: a bound below its minimum.
    """

    client_type: str
    dialect: Optional[Dialect] = None
    limits: Limits = DEFAULT_LIMITS
    waiting_limits: Limits = WAITING_LIMITS
    budget_bytes: Optional[int] = None
    hello_timeout: float = 5.0
    max_handshaking: int = 8
    max_clients: int = 8
    message_timeout: float = 10.0
    min_rate: float = 1 << 20
    max_queued_bytes: int = 64 << 20
    probe_position: bool = True
    probe_timeout: float = 5.0
    auth_secret: str = ''
    max_auth_failures: int = 5
    max_observers: int = 0
    observer_queue_bytes: int = 32 << 20

    def __post_init__(self) -> None:
        for name in ('max_handshaking', 'max_clients', 'max_queued_bytes',
                     'max_auth_failures', 'observer_queue_bytes'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        for name in ('hello_timeout', 'message_timeout', 'min_rate', 'probe_timeout'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')


def peer_host(peer: str) -> str:
    """The host of ``'host:port'`` / ``'[v6]:port'``."""
    return peer.rsplit(':', 1)[0].strip('[]')


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
    def controller(self) -> Optional[ClientInfo]:
        """The client in control, or None."""
        conn = self._in_control()
        return conn.info if conn else None

    def role(self, cid: int) -> Optional[ConnectionState]:
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
        deadlines: List[float] = []
        for conn in self._connections.values():
            deadline = self._deadline(conn)
            if deadline is not None:
                deadlines.append(deadline)
            reply_deadline = conn.requests.next_deadline()
            if conn.paused_at is None and reply_deadline is not None:
                deadlines.append(reply_deadline)
        return min(deadlines) if deadlines else None

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
        decoder = Decoder(Role.SERVER, self.config.waiting_limits, budget=self.budget)
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
            completed_before = conn.decoder.pending
            conn.received_at = now
            conn.decoder.buffer_updated(nbytes)
            if not conn.decoder.in_message:
                conn.message_started = None
            elif conn.decoder.pending > completed_before or conn.message_started is None:
                conn.message_started = now  # a new message began in these bytes
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
        buffers = self._encode(conn, message)
        events = self._queue(conn, buffers)
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
        if conn is None or paused == (conn.paused_at is not None):
            return
        if paused:
            conn.paused_at = now
            return
        shift, conn.paused_at = now - conn.paused_at, None  # type: ignore[operator]
        if conn.message_started is not None:
            conn.message_started += shift
        conn.requests.shift(shift)

    def check_deadlines(self, now: float) -> List[Event]:
        """Close what overstayed and report late replies."""
        self._now = now
        events: List[Event] = []
        for conn in list(self._connections.values()):
            if not conn.state.said_hello and now >= conn.hello_deadline:
                events += self._refuse(conn, f'no client type received within {self.config.hello_timeout:g} s')
                continue
            deadline = self._deadline(conn)
            if deadline is not None and now >= deadline:
                waited = now - (conn.message_started or now)
                events += self._lose(conn, f'a message of {conn.decoder.message_bytes} bytes is arriving too '
                                           f'slowly (started {waited:.1f} s ago)')
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
                                     successor=self._heard_from_last())
                continue
        return events

    def close_all(self) -> None:
        """Forget every connection (the server stops); their ids go to :meth:`pop_closed`."""
        for conn in list(self._connections.values()):
            self._close(conn)

    # -- rules --------------------------------------------------------------------------------------
    def _deadline(self, conn: Connection) -> Optional[float]:
        if not conn.state.said_hello:
            return conn.hello_deadline
        if conn.message_started is None or conn.paused_at is not None:
            return None
        return conn.message_started + self.config.message_timeout + conn.decoder.message_bytes / self.config.min_rate

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
            if self.config.auth_secret:  # the hello counts once the client has authenticated
                return self._await_authentication(conn, message)
            return self._hello(conn, message)
        if conn.state is ConnectionState.AUTHENTICATING:
            return self._authenticate(conn, message)
        if isinstance(message, (AuthRequest, AuthResponse)):  # offered, not required: accepted as it is
            if isinstance(message, AuthRequest):
                return self._queue(conn, self._encode(conn, AuthChallenge(new_nonce())))
            return []
        if isinstance(message, StatusRequest):  # docs/protocol.rst §9.4: the hello was accepted
            observing = conn.state is ConnectionState.OBSERVING
            return self._queue(conn, self._encode(conn, Accepted('observer' if observing else conn.state.value)))
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
    def _await_authentication(self, conn: Connection, hello: ClientType) -> List[Event]:
        refusal = self._auth_failures.refusal(peer_host(conn.info.peer), self._now)
        if refusal is not None:
            return self._refuse(conn, refusal)
        conn.hello = hello
        self._move(conn, Transition.HELLO_NEEDS_SECRET)
        return []

    def _authenticate(self, conn: Connection, message: Message) -> List[Event]:
        assert conn.hello is not None
        if isinstance(message, AuthRequest) and conn.nonce is None:
            conn.nonce = new_nonce()
            return self._queue(conn, self._encode(conn, AuthChallenge(conn.nonce)))
        if isinstance(message, AuthResponse) and conn.nonce is not None:
            if verify(self.config.auth_secret, conn.nonce, conn.hello.client_type, message.digest):
                log.info('client %s authenticated', conn.info.peer)
                return self._hello(conn, conn.hello)
            host = peer_host(conn.info.peer)
            failures = self._auth_failures.record(host, self._now)
            return self._refuse(conn, f'authentication failed: wrong shared secret ({failures} failure(s) from '
                                      f'{host} within {AUTH_WINDOW_S:g} s)')
        return self._refuse(conn, f'this plugin requires authentication (a shared secret, see the auth_secret '
                                  f'setting): the client sent {command_string(message)!r} instead')

    def auth_failures(self, now: float) -> Dict[str, int]:
        """Failed authentications per client host within the last ``AUTH_WINDOW_S`` seconds (hosts
        with none are forgotten); at ``max_auth_failures`` a host is refused at its hello."""
        self._now = now
        return self._auth_failures.counts(now)

    def _encode(self, conn: Connection, message: Message) -> list:
        """``message`` in the dialect this connection reads (a PyMoDAQ 5.0/5.1 one: its framing)."""
        hello_dialect = conn.hello.dialect if conn.hello is not None else None
        dialect = conn.info.dialect or hello_dialect or self.config.dialect or Dialect.LEGACY
        return Encoder(dialect, conn.info.layout or DwaLayout.V4_4).encode(message)

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
        """A copy of the controller's data or position for every observer (:class:`ObserverFanOut`)."""
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
            events = self._queue(conn, Encoder(probe).encode(CheckPosition()))
            conn.requests.add(Request(next(self._request_ids), CheckPosition.command, (PositionIs,),
                                      self._now + self.config.probe_timeout, self._now, self.config.probe_timeout,
                                      closes_on_timeout=False))
            return events
        return []

    def _queue(self, conn: Connection, buffers: list) -> List[Event]:
        conn.out.push(buffers)
        if conn.out.nbytes > self.config.max_queued_bytes:
            return self._lose(conn, f'the client does not read: {conn.out.nbytes} bytes waiting to be sent, '
                                    f'over the limit of {self.config.max_queued_bytes}')
        return []

    def _heard_from_last(self) -> Optional[Connection]:
        return max(self._in_state(ConnectionState.WAITING), key=lambda c: c.info.last_seen, default=None)

    def _promote(self, conn: Connection, reason: str) -> List[Event]:
        info = self._move(conn, Transition.TAKE_CONTROL)
        log.info('waiting client %s takes control', info.peer)
        events: List[Event] = [ControllerChanged(info, conn.infos_xml, reason)]
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
            self._farewells[conn.id] = self._encode(conn, Refused(reason))
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
            events += self._promote(waiting, f'{info.peer} left: {reason}') if waiting else [ControllerChanged(None)]
        return events
