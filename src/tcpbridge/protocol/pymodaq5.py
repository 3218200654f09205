"""The pymodaq5 dialect: what PyMoDAQ 5.0.x-5.1.x modules speak through their own "Connect to server"
(``main_settings/tcpip``), the serializer of ``pymodaq_utils.serialize`` (today ``serializall``).

Framing (docs/protocol.rst §7): every top-level object is one *envelope*,
``U32 N`` then N bytes holding one *tagged object*: ``STR tag`` (the Python class name: ``str``,
``bytes``, ``int``, ``float``, ``bool``, ``complex``, ``NoneType``, ``list``, ``tuple``, ``dict``,
``ndarray``, ``Axis``, a DataWithAxes class, ``DataToExport``) then its payload, whose fields are
tagged objects again (without envelope).  A message is a command envelope (a ``str``) followed by
its arguments, one envelope each: ``set_info`` = ``str``, ``list`` of ``str``, ``bytes`` (the XML).

The envelope length bounds every field of its object: a field that would run past it is an error
before anything of its size is allocated, as are lengths over the :class:`Limits`.  A hello is told
from a classic one by its first 8 bytes (a length, then ``00 00 00 03`` of the ``str`` tag,
:data:`HELLO_TAG_LENGTH`).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import numpy as np

from .data import DIMS, DISTRIBUTIONS, DWA_CLASSES, SOURCES, Axis, DataToExport, DataWithAxes, data_actuator
from .dialects import Dialect, DwaLayout
from .errors import EncodeError, MalformedPayload, PayloadTooLarge, UnknownCommand, UnknownTag
from .grammar import Parse, Reader, Writer, check_dwa, check_position, finite
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
    Refused,
    SendData,
    SetInfo,
    command_string,
    server_command,
)

#: the first U32 of a pymodaq5 hello after its envelope length: the length of the tag ``'str'``
HELLO_TAG_LENGTH = b'\x00\x00\x00\x03'
_TAG_LIMIT = 32
_SCALAR_TAGS = {'int': int, 'float': float, 'bool': bool, 'complex': complex}


class Pymodaq5Reader(Reader):
    """Reads pymodaq5 messages (generators over exact byte counts, as :class:`Reader`)."""

    def __init__(self, limits: Limits, old_layout: DwaLayout = DwaLayout.V4_4) -> None:
        super().__init__(limits, old_layout)
        self._end: Optional[int] = None

    def reset(self) -> None:
        super().reset()
        self._end = None

    def take(self, n: int) -> Parse:
        """``n`` raw bytes, inside the current envelope.  Raises MalformedPayload past its end."""
        if self._end is not None and self.total + n > self._end:
            raise MalformedPayload(f'a field of {n} bytes runs past the end of its object '
                                   f'({self._end - self.total} bytes left)')
        return (yield from super().take(n))

    # -- envelopes and tagged objects ---------------------------------------------------------
    def envelope(self, what: str, length: Optional[int] = None) -> Parse:
        """One top-level object: ``U32 N`` (``length`` when already read) and a tagged object of
        exactly N bytes."""
        if length is None:
            length = yield from self.u32()
        start = self.total
        if start + length > self.limits.max_payload_bytes:
            raise PayloadTooLarge(f'{what} of {length} bytes announced, over the limit of '
                                  f'{self.limits.max_payload_bytes} bytes')
        self._end = start + length
        value = yield from self.obj()
        if self.total != self._end:
            raise MalformedPayload(f'{what} announced {length} bytes but its object holds {self.total - start}')
        self._end = None
        return value

    def obj(self) -> Parse:
        """One tagged object.  Raises UnknownTag, or the errors of its fields."""
        tag = yield from self.string('type tag', _TAG_LIMIT)
        if tag == 'str':
            return (yield from self.string())
        if tag == 'bytes':
            n = yield from self.u32()
            return bytes((yield from self.take(n)))
        if tag in _SCALAR_TAGS:
            value = yield from self.scalar(f'{tag} value')
            return _SCALAR_TAGS[tag](value)
        if tag == 'NoneType':
            return None
        if tag in ('list', 'tuple'):
            n = yield from self.count(tag)
            self._enter('lists')
            items = []
            for _ in range(n):
                items.append((yield from self.obj()))
            self.depth -= 1
            return items if tag == 'list' else tuple(items)
        if tag == 'dict':
            keys = yield from self.typed(list, 'dict keys')
            values = []
            for _ in keys:
                values.append((yield from self.obj()))
            if not all(isinstance(k, (str, int, float, bool)) for k in keys):
                raise MalformedPayload('dict keys must be strings or numbers')
            return dict(zip(keys, values))
        if tag == 'ndarray':
            return (yield from self.array())
        if tag == 'Axis':
            return (yield from self.tagged_axis())
        if tag in DWA_CLASSES:
            return (yield from self.tagged_dwa(tag))
        if tag == 'DataToExport':
            return (yield from self.tagged_dte())
        raise UnknownTag(f'unknown object type {tag!r}')

    def typed(self, kind: Any, what: str) -> Parse:
        """A tagged object that must be a ``kind``.  Raises MalformedPayload."""
        value = yield from self.obj()
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise MalformedPayload(f'{what} is a {type(value).__name__}, expected {getattr(kind, "__name__", kind)}')
        return value

    def typed_list(self, kind: Any, what: str) -> Parse:
        """A ``list`` object whose items are all ``kind``."""
        values = yield from self.typed(list, what)
        for value in values:
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise MalformedPayload(f'{what} holds a {type(value).__name__}, expected {kind.__name__}')
        return values

    def tagged_text(self, what: str, allowed: Tuple[str, ...] = ()) -> Parse:
        value = yield from self.typed(str, what)
        if allowed and value not in allowed:
            raise MalformedPayload(f'{what} {value[:40]!r} is not one of {allowed}')
        return value

    def tagged_axis(self) -> Parse:
        """An ``Axis``: label, units, data, index, spread_order."""
        label = yield from self.tagged_text('axis label')
        units = yield from self.tagged_text('axis units')
        data = yield from self.typed(np.ndarray, 'axis data')
        if data.dtype.kind == 'c':
            raise MalformedPayload(f'axis {label!r} has complex values')
        index = yield from self.typed(int, 'axis index')
        spread_order = yield from self.typed(int, 'axis spread order')
        if not (0 <= index < 1 << 31 and 0 <= spread_order < 1 << 31):
            raise MalformedPayload(f'axis {label!r}: index {index} or spread order {spread_order} out of range')
        return Axis(label, units, data, index, spread_order)

    def tagged_dwa(self, class_name: str) -> Parse:
        """A DataWithAxes (``pymodaq_data.DataWithAxes.serialize``): timestamp, name, source, dim,
        distribution, data, units, labels, origin, nav_indexes, axes, errors, extra names, extras."""
        self._enter('objects')
        timestamp = finite((yield from self.typed(float, 'timestamp')), 'timestamp')
        name = yield from self.tagged_text('data name')
        source = yield from self.tagged_text('source', SOURCES)
        dim = yield from self.tagged_text('dim', DIMS)
        distribution = yield from self.tagged_text('distribution', DISTRIBUTIONS)
        data = yield from self.typed_list(np.ndarray, 'data')
        units = yield from self.tagged_text('units')
        labels = yield from self.typed_list(str, 'labels')
        origin = yield from self.tagged_text('origin')
        nav_indexes = yield from self.typed_list(int, 'nav_indexes')
        axes = yield from self.typed_list(Axis, 'axes')
        errors = yield from self.typed_list(np.ndarray, 'errors')
        extras = {}
        for key in (yield from self.typed_list(str, 'extra attribute names')):
            extras[key] = yield from self.obj()
        self.depth -= 1
        check_dwa(name, data, nav_indexes, axes, errors)
        return DataWithAxes(name=name, data=data, class_name=class_name, units=units, source=source, dim=dim,
                            distribution=distribution, labels=labels, origin=origin, nav_indexes=tuple(nav_indexes),
                            axes=axes, errors=errors, extra_attributes=extras, timestamp=timestamp)

    def tagged_dte(self) -> Parse:
        """A DataToExport: timestamp, name, list of DataWithAxes, extra attribute names and values
        (read, checked, and dropped: PyMoDAQ's modules send none, and ours carry none)."""
        timestamp = finite((yield from self.typed(float, 'timestamp')), 'timestamp')
        name = yield from self.tagged_text('DataToExport name')
        data = yield from self.typed_list(DataWithAxes, 'DataToExport content')
        for _ in (yield from self.typed_list(str, 'DataToExport extra attribute names')):
            yield from self.obj()
        return DataToExport(name=name, data=data, timestamp=timestamp)

    # -- messages -------------------------------------------------------------------------------
    def hello(self) -> Parse:
        """The client type, a ``str`` envelope."""
        return ClientType((yield from self.command_string()), Dialect.PYMODAQ5)

    def command_string(self) -> Parse:
        length = yield from self.u32()
        if length > self.limits.max_command_bytes + 16:
            raise MalformedPayload(f'a command of {length} bytes announced, over the limit of '
                                   f'{self.limits.max_command_bytes} bytes')
        value = yield from self.envelope('command', length)
        if not isinstance(value, str):
            raise MalformedPayload(f'expected a command string, got a {type(value).__name__}')
        return value

    def argument(self, kind: Any, what: str) -> Parse:
        value = yield from self.envelope(what)
        if not isinstance(value, kind):
            raise MalformedPayload(f'{what} is a {type(value).__name__}, expected {getattr(kind, "__name__", kind)}')
        return value

    def xml(self, what: str) -> Parse:
        value = yield from self.argument((bytes, str), what)
        if isinstance(value, bytes):
            try:
                return value.decode('utf-8')
            except UnicodeDecodeError as error:
                raise MalformedPayload(f'{what} is not UTF-8: {error.reason}') from None
        return value

    def path(self, what: str) -> Parse:
        path = yield from self.argument(list, what)
        if not all(isinstance(p, str) for p in path):
            raise MalformedPayload(f'{what} holds other things than strings')
        return tuple(path)

    def position(self, cls: Any) -> Parse:
        value = yield from self.argument((DataWithAxes, float, int), f'{cls.command} position')
        return cls(check_position(value), Dialect.PYMODAQ5)

    def done(self, cls: Any) -> Parse:
        data = yield from self.argument((DataToExport, DataWithAxes), 'Done data')
        if isinstance(data, DataWithAxes):
            data = DataToExport(data.name, data=[data])
        return Done(data, Dialect.PYMODAQ5)

    def path_and_xml(self, cls: Any) -> Parse:
        path = yield from self.path(f'{cls.command} path')
        return cls(path, (yield from self.xml(f'{cls.command} xml')))

    def payload(self, cls: Any) -> Parse:
        """The arguments of a ``cls`` message whose command was read (:data:`PAYLOAD_READERS`)."""
        read = PAYLOAD_READERS.get(cls)
        return (yield from read(self, cls)) if read is not None else cls()

    def client_message(self) -> Parse:
        """A message of a PyMoDAQ 5.0/5.1 module (``TCPClient``).  Raises UnknownCommand."""
        cmd = yield from self.command_string()
        cls = CLIENT_TO_SERVER.get(cmd)
        if cls is None:
            raise UnknownCommand(f'unknown command {cmd[:60]!r} from the client')
        return (yield from self.payload(cls))

    def observed_message(self) -> Parse:
        """What a server would send an observer in this framing: copies of client messages and its
        notices (servers share in the pymodaq4 dialect, docs/protocol.rst §9.2; this completes the
        framing interface).  Raises UnknownCommand."""
        cmd = yield from self.command_string()
        cls = CLIENT_TO_SERVER.get(cmd) or OBSERVER_NOTICES.get(cmd)
        if cls is None:
            raise UnknownCommand(f'unknown command {cmd[:60]!r} for an observer')
        return (yield from self.payload(cls))

    def server_message(self) -> Parse:
        """A message of a server to a PyMoDAQ 5.0/5.1 module.  Raises UnknownCommand."""
        cls = server_command((yield from self.command_string()))
        if isinstance(cls, SendData):
            return cls
        return (yield from self.payload(cls))


def _strings(*whats: str) -> Callable[[Pymodaq5Reader, Any], Parse]:
    """Arguments that are ``str`` objects, in the order of the message's fields."""
    def read(r: Pymodaq5Reader, cls: Any) -> Parse:
        values = []
        for what in whats:
            values.append((yield from r.argument(str, what)))
        return cls(*values)
    return read


def _xml(what: str) -> Callable[[Pymodaq5Reader, Any], Parse]:
    def read(r: Pymodaq5Reader, cls: Any) -> Parse:
        return cls((yield from r.xml(what)))
    return read


#: the pymodaq5 framing's argument readers, by message class (one without an entry has no argument)
PAYLOAD_READERS: Dict[Type[Message], Callable[[Pymodaq5Reader, Any], Parse]] = {
    Done: Pymodaq5Reader.done,
    **{cls: Pymodaq5Reader.position for cls in POSITION_MESSAGES},
    Infos: _xml('Infos xml'),
    Info: _strings('Info name', 'Info value'),
    InfoXml: Pymodaq5Reader.path_and_xml,
    SetInfo: Pymodaq5Reader.path_and_xml,
    AuthChallenge: _strings('authentication nonce'),
    AuthResponse: _strings('authentication response'),
    Accepted: _strings('acceptance'),
    Refused: _strings('refusal reason'),
}


# -- writing -------------------------------------------------------------------------------------

def write_object(w: Writer, value: Any) -> None:
    """One tagged object (no envelope), as PyMoDAQ 5's serializer writes it.

    Raises:
        EncodeError: a value of a type the serializer has no tag for.
    """
    if isinstance(value, (bool, np.bool_)):
        w.string('bool')
        w.scalar(np.bool_(value))
    elif isinstance(value, (int, np.integer)):
        w.string('int')
        w.scalar(np.int64(value))
    elif isinstance(value, (float, np.floating)):
        w.string('float')
        w.scalar(np.float64(value))
    elif isinstance(value, (complex, np.complexfloating)):
        w.string('complex')
        w.scalar(np.complex128(value))
    elif isinstance(value, str):
        w.string('str')
        w.string(value)
    elif isinstance(value, (bytes, bytearray)):
        w.string('bytes')
        w.raw(bytes(value))
    elif value is None:
        w.string('NoneType')
    elif isinstance(value, np.ndarray):
        w.string('ndarray')
        w.array(value)
    elif isinstance(value, (list, tuple)):
        w.string('list' if isinstance(value, list) else 'tuple')
        w.u32(len(value))
        for item in value:
            write_object(w, item)
    elif isinstance(value, dict):
        w.string('dict')
        write_object(w, list(value))
        for item in value.values():
            write_object(w, item)
    elif isinstance(value, Axis):
        w.string('Axis')
        axis_fields: Tuple[Any, ...] = (value.label, value.units, np.asarray(value.data), int(value.index),
                                        int(value.spread_order))
        for field in axis_fields:
            write_object(w, field)
    elif isinstance(value, DataWithAxes):
        w.string(value.class_name)
        dwa_fields: Tuple[Any, ...] = (
            float(value.timestamp), value.name, value.source, value.dim or 'Data0D', value.distribution,
            list(value.data), value.units, list(value.labels), value.origin, [int(i) for i in value.nav_indexes],
            list(value.axes), list(value.errors), list(value.extra_attributes))
        for field in dwa_fields:
            write_object(w, field)
        for item in value.extra_attributes.values():
            write_object(w, item)
    elif isinstance(value, DataToExport):
        w.string('DataToExport')
        dte_fields: Tuple[Any, ...] = (float(value.timestamp), value.name, list(value.data), [])  # no extras
        for field in dte_fields:
            write_object(w, field)
    else:
        raise EncodeError(f'PyMoDAQ 5 has no serializer for a {type(value).__name__}')


def write_envelope(w: Writer, value: Any) -> None:
    """One top-level object: its length, then the tagged object (large arrays stay zero-copy).

    Raises:
        EncodeError: see :func:`write_object`; an object over 2**32-1 bytes.
    """
    inner = Writer()
    write_object(inner, value)
    chunks = inner.finish()
    w.u32(sum(len(c) if isinstance(c, bytes) else c.nbytes for c in chunks))
    w.extend(chunks)


def _as_data_actuator(position: Any) -> DataWithAxes:
    """A position as the DataActuator PyMoDAQ 5 modules expect (a float value unless complex)."""
    if isinstance(position, DataWithAxes):
        return position
    value = np.asarray(position).item()
    return data_actuator(value if isinstance(value, complex) else float(value))


def _as_dte(data: Any) -> DataToExport:
    if isinstance(data, DataToExport):
        return data
    return DataToExport('data', data=[DataWithAxes('data', data=[np.asarray(a)], origin='data',
                                                   class_name='DataFromPlugins') for a in data])


def _no_axis_message(message: Message) -> List[Any]:
    raise EncodeError('PyMoDAQ 5 modules know no x_axis / y_axis message (3.x only)')


def _path_and_xml(message: Any) -> List[Any]:
    """``Info_xml`` / ``set_info``: the path as a list of ``str``, the XML as ``bytes``."""
    return [[str(p) for p in message.path], message.xml.encode()]


#: the pymodaq5 framing's arguments, by message class (one without an entry has none)
ARGUMENTS: Dict[Type[Message], Callable[[Any], List[Any]]] = {
    **{cls: lambda m: [_as_data_actuator(m.position)] for cls in POSITION_MESSAGES},
    Done: lambda m: [_as_dte(m.data)],
    Infos: lambda m: [m.xml.encode()],
    Info: lambda m: [m.name, m.value],
    InfoXml: _path_and_xml,
    SetInfo: _path_and_xml,
    AuthChallenge: lambda m: [m.nonce],
    AuthResponse: lambda m: [m.digest],
    Accepted: lambda m: [m.role],
    Refused: lambda m: [m.reason],
    AxisInfo: _no_axis_message,
}


def write_message(w: Writer, message: Message, dialect: Dialect = Dialect.PYMODAQ5,
                  layout: DwaLayout = DwaLayout.V4_4) -> None:
    """Write ``message`` as PyMoDAQ 5.0/5.1 does: the command envelope, then one envelope per
    argument (positions as DataActuator, data as DataToExport, XML as ``bytes``).  ``dialect`` and
    ``layout`` are those of the framing interface (:mod:`tcpbridge.protocol.framings`): this framing
    has one dialect and its own layout.

    Raises:
        EncodeError: a value PyMoDAQ 5 cannot carry.
    """
    if isinstance(message, ClientType):
        write_envelope(w, message.client_type)
        return
    write_envelope(w, command_string(message))
    arguments = ARGUMENTS.get(type(message))
    for argument in (arguments(message) if arguments is not None else []):
        write_envelope(w, argument)
