"""The message grammar of the classic framing (docs/protocol.rst §2): a hello, then messages that each start
with a command STR followed by the command's payload.  Payloads that differ between dialects
(positions, ``Done`` data) are read and written by the codec of :mod:`tcpbridge.protocol.codecs`
that claims them, so a connection may be decoded before its dialect is known.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type, Union

from .codecs import codec_for, data_codec, position_codec
from .dialects import Dialect, DwaLayout
from .errors import InvalidText, MalformedPayload, StringTooLong, UnknownCommand
from .grammar import Parse, Reader, Writer, preview
from .limits import Limits
from .messages import (
    CLIENT_TO_SERVER,
    OBSERVER_NOTICES,
    POSITION_MESSAGES,
    Accepted,
    AuthChallenge,
    AuthResponse,
    AxisInfo,
    ClientType,
    Done,
    Info,
    Infos,
    InfoXml,
    Message,
    PositionMessage,
    Refused,
    SendData,
    SetInfo,
    command_string,
    server_command,
)
from .pymodaq5 import HELLO_TAG_LENGTH

_DTE_NAME_LEN = len('DataToExport')
#: the longest acceptance or refusal text a client reads (bytes; the plugin's reasons are one line)
NOTICE_MAX = 4096


class MessageReader(Reader):
    """:class:`~tcpbridge.protocol.grammar.Reader` plus the messages of docs/protocol.rst §2."""

    def __init__(self, limits: Limits, old_layout: DwaLayout = DwaLayout.V4_2) -> None:
        super().__init__(limits, old_layout)

    def hello(self) -> Parse:
        """The client type STR (docs/protocol.rst §2.1), or a PyMoDAQ 5.0/5.1 hello (an envelope whose first
        4 bytes are the length of the tag ``'str'``, :mod:`~tcpbridge.protocol.pymodaq5`): then the
        :class:`ClientType` says ``Dialect.PYMODAQ5``."""
        length = yield from self.u32()
        limit = self.limits.max_command_bytes
        if length < len(HELLO_TAG_LENGTH):  # too short for any client type: read it, it is refused
            return ClientType((yield from self.string('client type', limit, length)))
        head = bytes((yield from self.take(len(HELLO_TAG_LENGTH))))
        if head != HELLO_TAG_LENGTH:
            if length > limit:
                raise StringTooLong(f'client type of {length} bytes announced, over the limit of {limit} bytes')
            rest = yield from self.text(length - len(head), 'client type')
            try:
                return ClientType(head.decode('utf-8') + rest)
            except UnicodeDecodeError:
                raise InvalidText(f'client type is not valid UTF-8: {preview(head)}') from None
        start = self.total
        if (yield from self.take(3)) != b'str':
            raise MalformedPayload('a PyMoDAQ 5 hello must be a str')
        client_type = yield from self.string('client type', limit)
        if self.total - start + len(head) != length:
            raise MalformedPayload(f'the hello announced {length} bytes but holds {self.total - start + len(head)}')
        return ClientType(client_type, Dialect.PYMODAQ5)

    def command(self) -> Parse:
        """A command STR."""
        return (yield from self.string('command string', self.limits.max_command_bytes))

    def data(self) -> Parse:
        """A ``Done`` payload, in the dialect its first bytes show (docs/protocol.rst §6)."""
        first = yield from self.u32()
        head = bytes((yield from self.take(4))) if first == _DTE_NAME_LEN else None
        codec = data_codec(first, head)
        payload, layout = yield from codec.read_data(self, first, head)
        return Done(payload, codec.dialect, layout)

    def position(self, cls: Type[PositionMessage]) -> Parse:
        """A position message's payload, in the dialect its first U32 shows (docs/protocol.rst §6)."""
        first = yield from self.u32()
        codec = position_codec(first)
        position, layout = yield from codec.read_position(self, first)
        return cls(position, codec.dialect, layout)

    def path_and_xml(self, cls: Union[Type[InfoXml], Type[SetInfo]]) -> Parse:
        """``Info_xml`` / ``set_info``: a LIST of path strings and the parameter XML."""
        path = yield from self.typed_items(str, f'{cls.command} path')
        return cls(tuple(path), (yield from self.string(f'{cls.command} xml')))

    def payload(self, cls: Type[Message]) -> Parse:
        """The payload of a ``cls`` message whose command was read (:data:`PAYLOAD_READERS`)."""
        read = PAYLOAD_READERS.get(cls)
        return (yield from read(self, cls)) if read is not None else cls()

    def client_message(self) -> Parse:
        """A message sent by a client (docs/protocol.rst §2.3).  Raises UnknownCommand."""
        return (yield from self.client_payload((yield from self.command())))

    def observed_message(self) -> Parse:
        """What a server sends an observer (tcpbridge extension): copies of client messages, and the
        authentication challenge and acceptance notices.  Raises UnknownCommand."""
        cmd = yield from self.command()
        cls = OBSERVER_NOTICES.get(cmd)
        return (yield from self.payload(cls)) if cls is not None else (yield from self.client_payload(cmd))

    def client_payload(self, cmd: str) -> Parse:
        """The rest of a client message whose command ``cmd`` was read.  Raises UnknownCommand."""
        cls = CLIENT_TO_SERVER.get(cmd)
        if cls is not None:
            return (yield from self.payload(cls))
        if cmd in ('x_axis', 'y_axis'):
            values = yield from self.array()
            label = yield from self.string('axis label')
            return AxisInfo(cmd[0], values, label, (yield from self.string('axis units')))
        raise UnknownCommand(f'unknown command {cmd!r} from the client')

    def server_message(self) -> Parse:
        """A message sent by a server (docs/protocol.rst §2.2).  Raises UnknownCommand."""
        cls = server_command((yield from self.command()))
        if isinstance(cls, SendData):
            return cls
        return (yield from self.payload(cls))


def _strings(*fields: Tuple[str, Optional[int]]) -> Callable[[MessageReader, Type[Message]], Parse]:
    """A payload of STR fields ``(what, max bytes or None: the limits')``, in the order of the message's fields."""
    def read(r: MessageReader, cls: Type[Message]) -> Parse:
        values = []
        for what, limit in fields:
            values.append((yield from r.string(what, limit)))
        return cls(*values)
    return read


#: the classic framing's payload readers, by message class (one without an entry has no payload)
PAYLOAD_READERS: Dict[Type[Message], Callable[[MessageReader, Any], Parse]] = {
    Done: lambda r, cls: r.data(),
    **{cls: MessageReader.position for cls in POSITION_MESSAGES},
    Infos: _strings(('Infos xml', None)),
    Info: _strings(('Info name', None), ('Info value', None)),
    InfoXml: MessageReader.path_and_xml,
    SetInfo: MessageReader.path_and_xml,
    AuthChallenge: _strings(('authentication nonce', 128)),
    AuthResponse: _strings(('authentication response', 128)),
    Accepted: _strings(('acceptance', NOTICE_MAX)),
    Refused: _strings(('refusal reason', NOTICE_MAX)),
}


def _write_strings(*names: str) -> Callable[[Writer, Any, Dialect, DwaLayout], None]:
    def write(w: Writer, message: Any, dialect: Dialect, layout: DwaLayout) -> None:
        for name in names:
            w.string(getattr(message, name))
    return write


def _write_path_and_xml(w: Writer, message: Union[InfoXml, SetInfo], dialect: Dialect, layout: DwaLayout) -> None:
    w.list([str(p) for p in message.path], layout, legacy=True)
    w.string(message.xml)


def _write_axis(w: Writer, message: AxisInfo, dialect: Dialect, layout: DwaLayout) -> None:
    w.array(message.values)
    w.string(message.label)
    w.string(message.units)


#: the classic framing's payload writers, by message class (one without an entry has no payload);
#: positions and data are written by the dialect's codec
PAYLOAD_WRITERS: Dict[Type[Message], Callable[[Writer, Any, Dialect, DwaLayout], None]] = {
    **{cls: lambda w, m, dialect, layout: codec_for(dialect).write_position(w, m.position, layout)
       for cls in POSITION_MESSAGES},
    Done: lambda w, m, dialect, layout: codec_for(dialect).write_data(w, m.data, layout),
    Infos: _write_strings('xml'),
    Info: _write_strings('name', 'value'),
    InfoXml: _write_path_and_xml,
    SetInfo: _write_path_and_xml,
    AuthChallenge: _write_strings('nonce'),
    AuthResponse: _write_strings('digest'),
    Accepted: _write_strings('role'),
    Refused: _write_strings('reason'),
    AxisInfo: _write_axis,
}


def write_message(w: Writer, message: Message, dialect: Dialect, layout: DwaLayout) -> None:
    """Write ``message`` (docs/protocol.rst §2), its position or data payload by ``dialect``'s codec.

    Raises:
        EncodeError: a value that the dialect cannot carry, or a length over 2**32-1.
    """
    if isinstance(message, ClientType):
        w.string(message.client_type)
        return
    w.string(command_string(message))
    write = PAYLOAD_WRITERS.get(type(message))
    if write is not None:
        write(w, message, dialect, layout)
