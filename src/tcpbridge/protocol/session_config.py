"""The policies of a server session: limits, timeouts, slots, authentication, observers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .dialects import Dialect
from .limits import DEFAULT_LIMITS, Limits

#: what a client that is not in control may send at once: its hello and its settings
WAITING_LIMITS = Limits(max_payload_bytes=4 << 20, max_string_bytes=4 << 20, max_list_length=4096)


@dataclass(frozen=True)
class SessionConfig:
    """The policies of a :class:`~tcpbridge.protocol.server_session.ServerSession` (docs/guide/limits.rst).
    Times in seconds.

    - *Handshake*: a new connection has ``hello_timeout`` s to send its type; at most
      ``max_handshaking`` connections may be in the handshake: a further one evicts the oldest, so
      silent connections can never keep a client that says hello from connecting.
    - *Roles*: the first client of the accepted type is in control; later ones wait, are sent nothing,
      and their messages other than settings are ignored.  At most ``max_clients`` said hello: a
      further one evicts the waiting client that has been silent longest (never the one in control).
      When the one in control leaves, the oldest waiting client takes control; when it is closed for a
      request unanswered (below), the waiting client heard from last does (it is alive: a silent one
      would be closed next).
    - *Pairing* (docs/protocol.rst §8): a reply settles the oldest request that awaits its message
      class and was sent before the reply was received; :class:`~tcpbridge.protocol.events.MessageReceived` names
      that request (``request_id``; 0: the message answers none).  A request whose reply does not come
      in time closes the connection (a late reply could otherwise answer a later request): the client
      reconnects on a clean connection.  The dialect probe (a position report) is the exception.
    - *Limits*: a client in control may send messages up to ``limits``; others up to
      ``waiting_limits`` (settings only).  Large fields are reserved from the shared ``budget``.
      A message in progress must end within ``message_timeout`` + its size / ``min_rate`` seconds.
    - *Back-pressure*: a client with more than ``max_queued_bytes`` waiting to be sent is dropped at
      once (it does not read).

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
