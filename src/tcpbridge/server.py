"""The server side of the bridge, as the TCPServer plugins use it: the engine (:class:`BridgeServer`),
the events it reports, and its policies.  Messages and data are in :mod:`tcpbridge.wire`.
"""
from __future__ import annotations

from .net.allowed import parse_allowed
from .net.backlog import BacklogLimits
from .net.dialer import REDIAL_DELAYS
from .net.server import BridgeServer
from .net.tls import client_context, handshake_problem, server_context
from .net.transport import DEAD_LINK_S, format_address
from .protocol.auth import AUTH_WINDOW_S
from .protocol.connection_state import ConnectionState
from .protocol.events import (
    IN_CONTROL,
    OBSERVING,
    WAITING,
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
)
from .protocol.server_session import ServerSession
from .protocol.session_config import SessionConfig

__all__ = [
    'AUTH_WINDOW_S', 'DEAD_LINK_S', 'IN_CONTROL', 'OBSERVING', 'REDIAL_DELAYS', 'WAITING',
    'BacklogLimits', 'BridgeServer', 'ClientConnected', 'ClientInfo', 'ClientLost', 'ClientRefused', 'ConnectFailed',
    'ConnectionState', 'ControlChanged', 'DialectDetected', 'EngineStopped', 'Event', 'MessageReceived',
    'ReplyTimeout', 'ServerSession', 'SessionConfig', 'client_context', 'format_address', 'handshake_problem',
    'parse_allowed', 'server_context',
]
