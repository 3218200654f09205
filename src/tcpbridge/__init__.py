"""tcpbridge: connect remote instruments to PyMoDAQ 5's TCPServer plugins.

Pure Python + numpy (no Qt, no pymodaq): the protocol core (both dialects of WIRE.md), the client
library (:class:`GrabberClient`, :class:`ActuatorClient`), the server engine used by the plugins,
and demo instruments.
"""
from __future__ import annotations

__version__ = '0.1.0'

from .client import ActuatorClient, BridgeClient, ConnectionLost, GrabberClient
from .data import Axis, DataToExport, DataWithAxes, data_actuator
from .decoder import Decoder, Role
from .dialects import Dialect, DwaLayout
from .encoder import Encoder
from .errors import (EncodeError, InvalidDtype, InvalidText, LimitExceeded, ListTooLong,
                     MalformedPayload, NestingTooDeep, PayloadTooLarge, ProtocolError,
                     ShapeMismatch, StringTooLong, TooManyDimensions, UnknownCommand, UnknownTag)
from .limits import Limits
from .messages import (AxisInfo, CheckPosition, ClientType, Done, GetActuatorValue, Info, InfoXml,
                       Infos, Message, MoveAbs, MoveDone, MoveHome, MoveRel, PositionIs, Quit,
                       SendData, SetInfo, StopMotion)

__all__ = [
    'ActuatorClient', 'Axis', 'AxisInfo', 'BridgeClient', 'CheckPosition', 'ClientType',
    'ConnectionLost', 'DataToExport', 'DataWithAxes', 'Decoder', 'Dialect', 'Done', 'DwaLayout',
    'EncodeError', 'Encoder', 'GetActuatorValue', 'GrabberClient', 'Info', 'InfoXml', 'Infos',
    'InvalidDtype', 'InvalidText', 'LimitExceeded', 'Limits', 'ListTooLong', 'MalformedPayload',
    'Message', 'MoveAbs', 'MoveDone', 'MoveHome', 'MoveRel', 'NestingTooDeep', 'PayloadTooLarge',
    'PositionIs', 'ProtocolError', 'Quit', 'Role', 'SendData', 'SetInfo', 'ShapeMismatch',
    'StopMotion', 'StringTooLong', 'TooManyDimensions', 'UnknownCommand', 'UnknownTag',
    '__version__', 'data_actuator',
]
