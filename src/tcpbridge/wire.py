"""The wire: messages, the data and settings they carry, their codecs and errors (the sans-I/O core of
:mod:`tcpbridge.protocol`, docs/protocol.rst).

For programs that speak the protocol themselves (a conformance tool, a custom server) and for
clients that send PyMoDAQ-style data: ``from tcpbridge import wire`` then ``wire.DataToExport``,
``wire.DataWithAxes``, ``wire.Axis``.  These are the *wire* forms of PyMoDAQ's classes of the same
names (numpy and the standard library only), kept in this namespace so that they never shadow
PyMoDAQ's own where both are imported.
"""
from __future__ import annotations

from .protocol.client_session import ClientSession
from .protocol.data import Axis, DataToExport, DataWithAxes, SerializedParameter, data_actuator, dim_of_shape
from .protocol.decoder import Decoder, Side
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
from .protocol.settings_xml import (
    MAX_XML_BYTES,
    parameter_to_xml,
    parse_parameter_xml,
    parse_settings_xml,
    settings_to_xml,
)

__all__ = [
    'ACTUATOR', 'GRABBER', 'MAX_XML_BYTES', 'OBSERVER',
    'Accepted', 'AuthChallenge', 'AuthRequest', 'AuthResponse', 'Axis', 'AxisInfo', 'BudgetExceeded', 'CheckPosition',
    'ClientSession', 'ClientType', 'DataToExport', 'DataWithAxes', 'Decoder', 'Dialect', 'Done', 'DwaLayout',
    'EncodeError', 'Encoder', 'GetActuatorValue', 'Info', 'InfoXml', 'Infos', 'InvalidDtype', 'InvalidText',
    'LimitExceeded', 'Limits', 'ListTooLong', 'MalformedPayload', 'Message', 'MoveAbs', 'MoveDone', 'MoveHome',
    'MoveRel', 'NestingTooDeep', 'PayloadTooLarge', 'PositionIs', 'PositionMessage', 'ProtocolError', 'Quit',
    'ReceiveBudget', 'Refused', 'Side', 'SendData', 'SerializedParameter', 'SetInfo', 'ShapeMismatch',
    'StatusRequest', 'StopMotion', 'StringTooLong', 'TooManyDimensions', 'UnknownCommand', 'UnknownTag',
    'data_actuator', 'dim_of_shape', 'parameter_to_xml', 'parse_parameter_xml', 'parse_settings_xml',
    'settings_to_xml',
]
