"""What a server reports to its user (the plugin): connections, messages, timeouts.

Produced by :class:`tcpbridge.protocol.server_session.ServerSession` (sans-I/O) and delivered by the
server engine of :mod:`tcpbridge.net.server` through its ``on_event`` callback.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .connection_state import ConnectionState
from .dialects import Dialect, DwaLayout
from .messages import Message
from .requests import Expected

#: roles of a client that said hello (the states of its connection)
IN_CONTROL = ConnectionState.IN_CONTROL
WAITING = ConnectionState.WAITING
#: an observer (tcpbridge extension): receives a copy of the data and positions, commands nothing
OBSERVING = ConnectionState.OBSERVING


@dataclass(frozen=True)
class ClientInfo:
    """What the clients table shows of one connection (a snapshot: a new one on each change).

    Attributes:
        id: connection number, from 1, unique for the server's life.
        peer: ``'host:port'`` of the client.
        connected_since: ``time.time()`` of the connection.
        client_type: ``'GRABBER'`` / ``'ACTUATOR'`` once the hello came, else ''.
        role: the state of its connection (:class:`~tcpbridge.protocol.connection_state.ConnectionState`,
            a ``str``): :data:`IN_CONTROL` (receives the commands), :data:`WAITING` (takes over when the
            one in control leaves), :data:`OBSERVING` (an observer); before its hello counts
            ``HANDSHAKE`` (``''``) or ``AUTHENTICATING``.
        dialect / layout: as learned from its payloads (or fixed by the server), else None.
        last_message: the command of its last message; last_seen: its ``time.time()``.
    """

    id: int
    peer: str
    connected_since: float
    client_type: str = ''
    role: ConnectionState = ConnectionState.HANDSHAKE
    dialect: Optional[Dialect] = None
    layout: Optional[DwaLayout] = None
    last_message: str = ''
    last_seen: float = 0.0

    @property
    def in_control(self) -> bool:
        """True for the client that receives the commands."""
        return self.role is ConnectionState.IN_CONTROL


@dataclass(frozen=True)
class Event:
    """Base class of what the server reports."""


@dataclass(frozen=True)
class ClientConnected(Event):
    """A client sent a valid hello; ``client.role`` says whether it is in control or waiting."""

    client: ClientInfo


@dataclass(frozen=True)
class ClientRefused(Event):
    """A connection was closed before or at the hello (not allowed, wrong type, silence, slots)."""

    peer: str
    reason: str


@dataclass(frozen=True)
class ClientLost(Event):
    """A client left (``Quit``), broke the protocol, stopped reading, or the connection dropped."""

    client: ClientInfo
    reason: str


@dataclass(frozen=True)
class ControlChanged(Event):
    """A waiting client took control (``client``), or none is left (``client`` None).
    ``infos_xml`` is the last ``Infos`` the new one sent; ``reason`` says why control changed."""

    client: Optional[ClientInfo]
    infos_xml: str = ''
    reason: str = ''


@dataclass(frozen=True)
class MessageReceived(Event):
    """A message from the client in control, ``nbytes`` long on the wire, received at ``received_at``
    (``time.monotonic()`` just after the receive that completed it: an answer's is always later than
    the time its request was sent).

    ``request_id``: the request this message answers (the id :meth:`~tcpbridge.net.server.BridgeServer.send`
    returned),
    or 0 if it answers none: data pushed by the client, a position report, a reply nobody awaits
    (the pairing rules: docs/protocol.rst §8).

    ``release``: set by a :class:`~tcpbridge.net.server.BridgeServer` with a backlog bound
    (``max_backlog_bytes``): call it once the message's data are no longer held (any thread; once is
    enough, later calls do nothing).  The engine stops reading the client while too much it
    delivered is unreleased (see :mod:`tcpbridge.net.backlog`).
    """

    client: ClientInfo
    message: Message
    nbytes: int = 0
    received_at: float = 0.0
    request_id: int = 0
    release: Optional[Callable[[], None]] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DialectDetected(Event):
    """The payloads of the client in control showed its dialect (docs/protocol.rst §6)."""

    client: ClientInfo


@dataclass(frozen=True)
class ReplyTimeout(Event):
    """Request ``request_id`` (``command``) got none of the ``expected`` reply classes in time.  For a request
    whose reply completes something (every one but the dialect probe) a :class:`ClientLost` follows at
    once: the connection is closed, so that a late reply cannot answer a later request."""

    client: ClientInfo
    command: str
    expected: Expected
    request_id: int = 0


@dataclass(frozen=True)
class EngineStopped(Event):
    """The server's I/O thread ended on an unexpected error: nothing is served any more."""

    reason: str


@dataclass(frozen=True)
class ConnectFailed(Event):
    """Connect mode (the server dials an always-on instrument): the attempt to reach ``peer``
    failed; the next one is in ``retry_in`` seconds."""

    peer: str
    reason: str
    retry_in: float
