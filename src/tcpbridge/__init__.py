"""tcpbridge: connect remote instruments to PyMoDAQ 5's TCPServer plugins.

Pure Python + numpy (no Qt, no pymodaq), in layers that import downwards only:

- :mod:`tcpbridge.protocol`: the sans-I/O core (framing, one codec per dialect, decoder, encoder,
  settings XML, the server session);
- :mod:`tcpbridge.net`: sockets, the server engine used by the plugins, the client library
  (:class:`GrabberClient`, :class:`ActuatorClient`);
- :mod:`tcpbridge.instruments` (demo instruments), :mod:`tcpbridge.tools` (transcripts, replay,
  client processes) and :mod:`tcpbridge.cli` (the ``tcpbridge`` command).

Everything a program needs is importable from here; the submodules are the implementation.
"""
from __future__ import annotations

__version__ = '0.2.0'

from .cli import PYMODAQ_INSTALL, Command, add_dead_link_argument, add_tls_arguments, connection_from_arguments
from .instruments.demo import SimulatedDetector, SimulatedStage
from .net.actuator import ActuatorClient
from .net.allowed import parse_allowed
from .net.backlog import BacklogLimits
from .net.client import BridgeClient, ConnectionLost, RefusedByServer
from .net.dialer import REDIAL_DELAYS
from .net.grabber import GrabberClient
from .net.observer import ObserverClient
from .net.server import BridgeServer
from .net.tls import client_context, endpoint_context, handshake_problem, server_context
from .net.transport import DEAD_LINK_S, format_address, parse_endpoint
from .protocol.client_session import ClientSession
from .protocol.data import Axis, DataToExport, DataWithAxes, SerializedParameter, data_actuator, dim_of_shape
from .protocol.decoder import Decoder, Role
from .protocol.dialects import Dialect, DwaLayout
from .protocol.encoder import Encoder
from .protocol.errors import (
                            BudgetExceeded,
                            EncodeError,
                            InvalidDtype,
                            InvalidText,
                            LimitExceeded,
                            ListTooLong,
                            MalformedPayload,
                            NestingTooDeep,
                            PayloadTooLarge,
                            ProtocolError,
                            ShapeMismatch,
                            StringTooLong,
                            TooManyDimensions,
                            UnknownCommand,
                            UnknownTag,
)
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
from .protocol.limits import Limits, ReceiveBudget
from .protocol.messages import (
                            ACTUATOR,
                            GRABBER,
                            OBSERVER,
                            Accepted,
                            AuthChallenge,
                            AuthRequest,
                            AuthResponse,
                            AxisInfo,
                            CheckPosition,
                            ClientType,
                            Done,
                            GetActuatorValue,
                            Info,
                            Infos,
                            InfoXml,
                            Message,
                            MoveAbs,
                            MoveDone,
                            MoveHome,
                            MoveRel,
                            PositionIs,
                            PositionMessage,
                            Quit,
                            Refused,
                            SendData,
                            SetInfo,
                            StatusRequest,
                            StopMotion,
)
from .protocol.server_session import AUTH_WINDOW_S, ServerSession, SessionConfig
from .protocol.settings_xml import (
                            MAX_XML_BYTES,
                            parameter_to_xml,
                            parse_parameter_xml,
                            parse_settings_xml,
                            settings_to_xml,
)
from .tools.processes import ClientProcess

__all__ = [
    'ACTUATOR', 'AUTH_WINDOW_S', 'GRABBER', 'IN_CONTROL', 'MAX_XML_BYTES', 'OBSERVER', 'OBSERVING', 'WAITING',
    'Accepted', 'ActuatorClient', 'AuthChallenge', 'AuthRequest', 'AuthResponse', 'Axis', 'AxisInfo', 'BridgeClient',
    'BacklogLimits', 'BridgeServer', 'BudgetExceeded', 'CheckPosition', 'ClientConnected', 'ClientInfo', 'ClientLost',
    'ClientProcess', 'ClientRefused', 'ClientSession', 'ClientType', 'Command', 'ConnectFailed',
    'ConnectionLost', 'ControlChanged', 'DataToExport', 'DataWithAxes', 'Decoder', 'Dialect',
    'DialectDetected', 'Done', 'DwaLayout', 'EncodeError', 'Encoder', 'EngineStopped', 'Event',
    'GetActuatorValue', 'GrabberClient', 'Info', 'InfoXml', 'Infos', 'InvalidDtype', 'InvalidText',
    'LimitExceeded', 'Limits', 'ListTooLong', 'MalformedPayload', 'Message', 'MessageReceived', 'MoveAbs',
    'MoveDone', 'MoveHome', 'MoveRel', 'NestingTooDeep', 'ObserverClient', 'PYMODAQ_INSTALL',
    'PayloadTooLarge', 'PositionIs', 'PositionMessage', 'ProtocolError', 'Quit', 'REDIAL_DELAYS', 'DEAD_LINK_S',
    'ReceiveBudget', 'Refused', 'RefusedByServer', 'ReplyTimeout', 'Role', 'SendData', 'SerializedParameter',
    'ServerSession',
    'SessionConfig', 'SetInfo', 'ShapeMismatch', 'SimulatedDetector', 'SimulatedStage', 'StatusRequest',
    'StopMotion',
    'StringTooLong', 'TooManyDimensions', 'UnknownCommand', 'UnknownTag', '__version__', 'data_actuator',
    'dim_of_shape', 'format_address', 'parameter_to_xml', 'parse_allowed', 'add_tls_arguments',
    'client_context', 'connection_from_arguments', 'endpoint_context', 'handshake_problem',
    'parse_endpoint', 'parse_parameter_xml', 'add_dead_link_argument',
    'parse_settings_xml', 'server_context', 'settings_to_xml',
]
