"""One server-side connection as the session sees it (the I/O loop holds only its socket)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .buffers import OutQueue
from .connection_state import ConnectionState
from .decoder import Decoder
from .dialects import Dialect, DwaLayout
from .encoder import Encoder
from .events import ClientInfo
from .messages import ClientType, Message
from .requests import PendingRequests
from .session_config import SessionConfig


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

    @property
    def host(self) -> str:
        """The host of its peer (``'host:port'`` / ``'[v6]:port'``)."""
        return self.info.peer.rsplit(':', 1)[0].strip('[]')

    def bytes_arrived(self, nbytes: int, now: float) -> None:
        """``nbytes`` were received into its decoder at ``now``: note when the message in progress began."""
        completed_before = self.decoder.pending
        self.received_at = now
        self.decoder.buffer_updated(nbytes)
        if not self.decoder.in_message:
            self.message_started = None
        elif self.decoder.pending > completed_before or self.message_started is None:
            self.message_started = now  # a new message began in these bytes

    def deadline(self, config: SessionConfig) -> Optional[float]:
        """When it overstays: its hello deadline before the hello counts, else the end allowed to the
        message in progress (``message_timeout`` + its size / ``min_rate``), None while reading is paused."""
        if not self.state.said_hello:
            return self.hello_deadline
        if self.message_started is None or self.paused_at is not None:
            return None
        return self.message_started + config.message_timeout + self.decoder.message_bytes / config.min_rate

    def next_deadline(self, config: SessionConfig) -> Optional[float]:
        """The earliest of :meth:`deadline` and, unless reading is paused, its reply deadlines."""
        replies = None if self.paused_at is not None else self.requests.next_deadline()
        return min((d for d in (self.deadline(config), replies) if d is not None), default=None)

    def overstayed(self, now: float, config: SessionConfig) -> str:
        """Why it is closed at ``now``: no hello in time, or a message arriving too slowly; '' if neither."""
        deadline = self.deadline(config)
        if deadline is None or now < deadline:
            return ''
        if not self.state.said_hello:
            return f'no client type received within {config.hello_timeout:g} s'
        return (f'a message of {self.decoder.message_bytes} bytes is arriving too slowly (started '
                f'{now - (self.message_started or now):.1f} s ago)')

    def set_paused(self, paused: bool, now: float) -> None:
        """Reading it stops (``paused``) or resumes at ``now``: meanwhile the waits are ours, so its
        message deadline and its reply deadlines resume shifted by the pause."""
        if paused == (self.paused_at is not None):
            return
        if paused:
            self.paused_at = now
            return
        shift, self.paused_at = now - self.paused_at, None  # type: ignore[operator]
        if self.message_started is not None:
            self.message_started += shift
        self.requests.shift(shift)

    def encode(self, default: Optional[Dialect], message: Message) -> list:
        """``message`` in the dialect this connection reads (a PyMoDAQ 5.0/5.1 one: its framing);
        ``default``: the server's, for a client whose dialect is not known yet (else legacy)."""
        hello_dialect = self.hello.dialect if self.hello is not None else None
        dialect = self.info.dialect or hello_dialect or default or Dialect.LEGACY
        return Encoder(dialect, self.info.layout or DwaLayout.V4_4).encode(message)
