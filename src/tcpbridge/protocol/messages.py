"""Typed messages of the PyMoDAQ TCP protocol (docs/protocol.rst §2).

Each class has a ``command`` string, the bytes that start it on the wire.  Positions are either a
plain number (legacy dialect: a typed scalar) or a :class:`~tcpbridge.data.DataWithAxes` of class
``DataActuator`` (pymodaq4 dialect); the encoder converts between the two as the connection's
dialect requires.  Data (``Done``) is a list of numpy arrays (legacy) or a
:class:`~tcpbridge.data.DataToExport` (pymodaq4).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Dict, Optional, Tuple, Type, Union

import numpy as np

from .data import DataToExport, DataWithAxes, values_equal
from .dialects import Dialect, DwaLayout
from .errors import UnknownCommand

#: a number, a 0-d numpy array (keeps its dtype, e.g. '>f8', in the legacy dialect) or a DataActuator
Position = Union[float, int, complex, bool, np.ndarray, DataWithAxes]
Payload = Union[list, DataToExport]

GRABBER = 'GRABBER'
ACTUATOR = 'ACTUATOR'
#: the hello of an observer (tcpbridge extension): a copy of the data and positions, no command
OBSERVER = 'OBSERVER'
DATA_DIMS = ('0D', '1D', '2D', 'ND')


@dataclass(frozen=True)
class Message:
    """Base class.  ``dialect``/``layout`` are filled in by the decoder when the payload showed them."""

    command: ClassVar[str] = ''


@dataclass(frozen=True)
class ClientType(Message):
    """The hello: first string a client sends, ``'GRABBER'`` or ``'ACTUATOR'`` (docs/protocol.rst §2.1).
    ``dialect`` is ``Dialect.PYMODAQ5`` when the hello came in that framing (it fixes the dialect
    of the connection), else None (the classic framing: legacy or pymodaq4, told later)."""

    client_type: str
    dialect: Optional[Dialect] = field(default=None, compare=False)


@dataclass(frozen=True)
class Quit(Message):
    """Client -> server: the client is about to close (no payload)."""

    command: ClassVar[str] = 'Quit'


@dataclass(frozen=True)
class Infos(Message):
    """Client -> server: the client's whole settings tree as PyMoDAQ parameter XML."""

    command: ClassVar[str] = 'Infos'
    xml: str


@dataclass(frozen=True)
class Info(Message):
    """Client -> server: one free-form ``name = value`` pair (both strings)."""

    command: ClassVar[str] = 'Info'
    name: str
    value: str


@dataclass(frozen=True)
class InfoXml(Message):
    """Client -> server: one parameter changed; ``path`` includes the client's root group name."""

    command: ClassVar[str] = 'Info_xml'
    path: tuple
    xml: str


@dataclass(frozen=True)
class SetInfo(Message):
    """Server -> client: the user edited one client parameter (path: see docs/protocol.rst §4.12)."""

    command: ClassVar[str] = 'set_info'
    path: tuple
    xml: str


@dataclass(frozen=True)
class AuthRequest(Message):
    """Client -> server, right after the hello: the client knows a shared secret and asks for a
    challenge (tcpbridge extension: a client that does not send it never sees any of it)."""

    command: ClassVar[str] = 'tcpbridge.auth'


@dataclass(frozen=True)
class AuthChallenge(Message):
    """Server -> client: the nonce (hex, 32 random bytes) the client must sign."""

    command: ClassVar[str] = 'tcpbridge.challenge'
    nonce: str


@dataclass(frozen=True)
class AuthResponse(Message):
    """Client -> server: ``HMAC-SHA256(secret, nonce + client_type)`` in hex (see
    :func:`tcpbridge.protocol.auth.response`); the secret never crosses the wire."""

    command: ClassVar[str] = 'tcpbridge.response'
    digest: str


@dataclass(frozen=True)
class StatusRequest(Message):
    """Client -> server, after its hello (and its authentication): "was I accepted?" (tcpbridge
    extension, docs/protocol.rst §9.4).  A tcpbridge plugin answers :class:`Accepted`; PyMoDAQ's
    own 3.x/4.x servers ignore it (their status shows it as an unknown command)."""

    command: ClassVar[str] = 'tcpbridge.status'


@dataclass(frozen=True)
class Accepted(Message):
    """Server -> client, the answer to :class:`StatusRequest`: the hello (and authentication) passed;
    ``role`` says how the plugin takes the client (``'in control'``, ``'waiting'``: another client
    is in control, ``'observer'``)."""

    command: ClassVar[str] = 'tcpbridge.accepted'
    role: str


@dataclass(frozen=True)
class Refused(Message):
    """Server -> client, its last message before it closes the connection: why the client was
    refused (wrong type, authentication, too many clients...; docs/protocol.rst §9.4).  Sent to
    every client refused after its hello, asked or not: a client that does not know it reads an
    unknown command, then the end of the connection it was losing anyway."""

    command: ClassVar[str] = 'tcpbridge.refused'
    reason: str


@dataclass(frozen=True)
class SendData(Message):
    """Server -> client: ``'Send Data 0D'`` ... ``'Send Data ND'``; the reply is :class:`Done`."""

    dim: str = '1D'

    @property
    def command_string(self) -> str:
        return f'Send Data {self.dim}'


@dataclass(frozen=True)
class Done(Message):
    """Client -> server: detector data, requested or pushed.

    ``data`` is a list of arrays (legacy) or a DataToExport (pymodaq4).
    """

    command: ClassVar[str] = 'Done'
    data: Payload
    dialect: Optional[Dialect] = field(default=None, compare=False)
    layout: Optional[DwaLayout] = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Done):
            return NotImplemented
        return values_equal(self.data, other.data)


@dataclass(frozen=True)
class PositionMessage(Message):
    """Base of the four messages that carry a position (``move_abs``, ``move_rel``,
    ``position_is``, ``move_done``): a number (legacy) or a DataActuator (pymodaq4)."""

    position: Position
    dialect: Optional[Dialect] = field(default=None, compare=False)
    layout: Optional[DwaLayout] = field(default=None, compare=False)

    @property
    def value(self) -> Union[float, int, complex, bool]:
        """The position as a Python number, whatever the dialect."""
        return position_value(self.position)

    @property
    def units(self) -> str:
        """Units sent with the position ('' in the legacy dialect and the <4.4 layouts)."""
        return self.position.units if isinstance(self.position, DataWithAxes) else ''


@dataclass(frozen=True)
class MoveAbs(PositionMessage):
    """Server -> client: move to ``position`` (axis units)."""

    command: ClassVar[str] = 'move_abs'


@dataclass(frozen=True)
class MoveRel(PositionMessage):
    """Server -> client: move by ``position`` (axis units)."""

    command: ClassVar[str] = 'move_rel'


@dataclass(frozen=True)
class PositionIs(PositionMessage):
    """Client -> server: current position (answer to a position query, or while moving)."""

    command: ClassVar[str] = 'position_is'


@dataclass(frozen=True)
class MoveDone(PositionMessage):
    """Client -> server: a move (abs, rel, home, or a stop) has ended at ``position``."""

    command: ClassVar[str] = 'move_done'


@dataclass(frozen=True)
class MoveHome(Message):
    """Server -> client: go to the home position; the reply is :class:`MoveDone`."""

    command: ClassVar[str] = 'move_home'


@dataclass(frozen=True)
class StopMotion(Message):
    """Server -> client: stop now.  Our clients answer :class:`MoveDone` (PyMoDAQ's ignored it)."""

    command: ClassVar[str] = 'stop_motion'


@dataclass(frozen=True)
class CheckPosition(Message):
    """Server -> client: position query understood by every client 3.0-4.4; reply :class:`PositionIs`."""

    command: ClassVar[str] = 'check_position'


@dataclass(frozen=True)
class GetActuatorValue(Message):
    """Server -> client: position query of PyMoDAQ 3.6.3+ servers; reply :class:`PositionIs`."""

    command: ClassVar[str] = 'get_actuator_value'


@dataclass(frozen=True)
class AxisInfo(Message):
    """Client -> server, legacy only: ``x_axis`` / ``y_axis`` + values, label, units (3.x viewers)."""

    which: str
    values: np.ndarray
    label: str = ''
    units: str = ''

    @property
    def command_string(self) -> str:
        return f'{self.which}_axis'

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AxisInfo):
            return NotImplemented
        return (self.which, self.label, self.units) == (other.which, other.label, other.units) \
            and np.array_equal(self.values, other.values)


def command_string(message: Message) -> str:
    """The command string that starts ``message`` on the wire."""
    if isinstance(message, (SendData, AxisInfo)):
        return message.command_string
    return message.command


def position_value(position: Position) -> Union[float, int, complex, bool]:
    """A position as a Python number: a DataActuator's first value, or the scalar itself."""
    if isinstance(position, DataWithAxes):
        return position.value
    if isinstance(position, (np.generic, np.ndarray)):
        return position.item()
    return position


#: the messages whose payload is a position (its form depends on the dialect)
POSITION_MESSAGES: Tuple[Type[PositionMessage], ...] = (MoveAbs, MoveRel, PositionIs, MoveDone)
#: commands a server may receive, with the class that decodes their payload
CLIENT_TO_SERVER: Dict[str, Type[Message]] = {
    cls.command: cls for cls in (Quit, Infos, Info, InfoXml, Done, PositionIs, MoveDone, AuthRequest, AuthResponse,
                                 StatusRequest)}
#: commands a client may receive (payload-less ones and the three with a payload)
SERVER_TO_CLIENT: Dict[str, Type[Message]] = {
    cls.command: cls for cls in (MoveAbs, MoveRel, MoveHome, StopMotion, CheckPosition,
                                                 GetActuatorValue, SetInfo, AuthChallenge, Accepted, Refused)}

#: what a server sends an observer besides the copies of the client's messages (tcpbridge extension)
OBSERVER_NOTICES: Dict[str, Type[Message]] = {cls.command: cls for cls in (AuthChallenge, Accepted, Refused)}

def server_command(cmd: str) -> Union[SendData, Type[Message]]:
    """What a command string from a server starts (docs/protocol.rst §2.2): a complete :class:`SendData`, or
    the class of the message whose payload follows.

    Raises:
        UnknownCommand: not a server command.
    """
    if cmd.startswith('Send Data '):
        if cmd[10:] not in DATA_DIMS:
            raise UnknownCommand(f'unknown command {cmd[:60]!r}: Send Data takes 0D, 1D, 2D or ND')
        return SendData(cmd[10:])
    cls = SERVER_TO_CLIENT.get(cmd)
    if cls is None:
        raise UnknownCommand(f'unknown command {cmd[:60]!r} from the server')
    return cls
