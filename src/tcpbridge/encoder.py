"""Encoders: messages and values to bytes, in the legacy and pymodaq4 dialects (WIRE.md §1-2).

The result of an encoder is a list of buffers (``bytes`` or ``memoryview``): small fields are
coalesced into one ``bytes``; an array larger than :data:`ZERO_COPY_BYTES` stays a view of the
numpy memory so that the transport can send it without copying.  ``b''.join(chunks)`` gives the
message bytes.
"""
from __future__ import annotations

import struct
from typing import Any, List, Union

import numpy as np

from .data import Axis, DataToExport, DataWithAxes, SerializedParameter, data_actuator
from .dialects import Dialect, DwaLayout
from .dtypes import dtype_to_wire
from .errors import EncodeError
from .messages import (AxisInfo, ClientType, Done, Info, InfoXml, Infos, Message, Position,
                       SetInfo, _PositionMessage, command_string, position_value)

Buffer = Union[bytes, memoryview]
#: arrays at least this large are sent from their own memory instead of being copied
ZERO_COPY_BYTES = 64 * 1024
_U32 = struct.Struct('>I')
U32_MAX = 0xFFFFFFFF


class _Writer:
    """Accumulates encoded fields; large arrays are kept as separate zero-copy views."""

    __slots__ = ('chunks', 'head')

    def __init__(self) -> None:
        self.chunks: List[Buffer] = []
        self.head = bytearray()

    def u32(self, value: int) -> None:
        if not 0 <= value <= U32_MAX:
            raise EncodeError(f'{value} does not fit the U32 length field (0 .. 2**32-1)')
        self.head += _U32.pack(value)

    def raw(self, data: bytes) -> None:
        self.u32(len(data))
        self.head += data

    def string(self, text: Union[str, bytes]) -> None:
        """STR (WIRE.md §1.2): U32 byte length + UTF-8 bytes."""
        self.raw(text.encode() if isinstance(text, str) else bytes(text))

    def scalar(self, value: Any) -> None:
        """SCALAR (WIRE.md §1.3): STR(dtype) + U32(nbytes) + raw bytes."""
        array = np.asarray(value)
        if array.ndim != 0:
            raise EncodeError(f'a scalar was expected, got an array of shape {array.shape}')
        self.string(dtype_to_wire(array.dtype))
        self.raw(array.tobytes())

    def array(self, value: Any) -> None:
        """NDARRAY (WIRE.md §1.4): dtype, nbytes, ndim, shape, raw bytes in C order."""
        array = np.asarray(value, order="C")  # ascontiguousarray would make 0-d arrays 1-d
        self.string(dtype_to_wire(array.dtype))
        self.u32(array.nbytes)
        self.u32(array.ndim)
        for dim in array.shape:
            self.u32(dim)
        if array.nbytes >= ZERO_COPY_BYTES:
            self.chunks.append(bytes(self.head))
            self.head = bytearray()
            self.chunks.append(memoryview(array.reshape(-1).view(np.uint8)))
        else:
            self.head += array.tobytes()

    def finish(self) -> List[Buffer]:
        if self.head:
            self.chunks.append(bytes(self.head))
        chunks, self.chunks, self.head = self.chunks, [], bytearray()
        return chunks


def _item(w: _Writer, value: Any, layout: DwaLayout, legacy: bool) -> None:
    """One type-tagged list item (WIRE.md §1.5)."""
    if isinstance(value, np.ndarray):
        w.string('array')
        w.array(value)
    elif isinstance(value, str):
        w.string('string')
        w.string(value)
    elif isinstance(value, (bool, np.bool_)):
        if legacy:  # the legacy reader knows no 'bool' tag: PyMoDAQ <= 4.4.6 wrote this
            w.string('scalar')
        else:
            w.string('bool')
        w.scalar(np.bool_(value))
    elif isinstance(value, (int, float, complex, np.number)):
        w.string('scalar')
        w.scalar(value)
    elif isinstance(value, (bytes, bytearray)):
        _need_pymodaq4(legacy, 'bytes')
        w.string('bytes')
        w.raw(bytes(value))
    elif isinstance(value, (list, tuple)):
        _need_pymodaq4(legacy, 'list')
        w.string('list')
        _list(w, value, layout, legacy)
    elif isinstance(value, Axis):
        _need_pymodaq4(legacy, 'Axis')
        w.string('axis')
        _axis(w, value)
    elif isinstance(value, DataWithAxes):
        _need_pymodaq4(legacy, 'DataWithAxes')
        w.string('dwa')
        _dwa(w, value, layout)
    elif isinstance(value, DataToExport):
        _need_pymodaq4(legacy, 'DataToExport')
        w.string('dte')
        _dte(w, value, layout)
    elif isinstance(value, SerializedParameter):
        _need_pymodaq4(legacy, 'parameter')
        w.string('parameter')
        _list(w, list(value.path), layout, legacy)
        w.string(value.xml)
    else:
        raise EncodeError(f'cannot put a {type(value).__name__} in a list on the wire')


def _need_pymodaq4(legacy: bool, what: str) -> None:
    if legacy:
        raise EncodeError(f'the legacy dialect cannot carry {what} items (arrays, strings, scalars only)')


def _list(w: _Writer, items: Any, layout: DwaLayout, legacy: bool) -> None:
    """LIST (WIRE.md §1.5): U32 count + tagged items."""
    w.u32(len(items))
    for value in items:
        _item(w, value, layout, legacy)


def _axis(w: _Writer, axis: Axis) -> None:
    """AXIS (WIRE.md §1.6)."""
    w.string('Axis')
    w.string(axis.label)
    w.string(axis.units)
    w.array(np.asarray(axis.data))
    w.scalar(int(axis.index))
    w.scalar(int(axis.spread_order))


def _dwa(w: _Writer, dwa: DataWithAxes, layout: DwaLayout) -> None:
    """DWA (WIRE.md §1.7), fields as ``layout`` has them."""
    w.string(dwa.class_name)
    w.scalar(float(dwa.timestamp))
    w.string(dwa.name)
    if layout.has_units:
        w.string(dwa.units)
    w.string(dwa.source)
    w.string(dwa.dim or 'Data0D')
    w.string(dwa.distribution)
    _list(w, dwa.data, layout, False)
    _list(w, list(dwa.labels), layout, False)
    w.string(dwa.origin)
    _list(w, [int(i) for i in dwa.nav_indexes], layout, False)
    _list(w, dwa.axes, layout, False)
    if layout.has_errors:
        _list(w, dwa.errors, layout, False)
    if layout.has_extras:
        _list(w, list(dwa.extra_attributes), layout, False)
        for value in dwa.extra_attributes.values():
            _item(w, value, layout, False)


def _dte(w: _Writer, dte: DataToExport, layout: DwaLayout) -> None:
    """DTE (WIRE.md §1.8)."""
    w.string('DataToExport')
    w.scalar(float(dte.timestamp))
    w.string(dte.name)
    _list(w, dte.data, layout, False)


def _position(w: _Writer, position: Position, dialect: Dialect, layout: DwaLayout) -> None:
    if dialect is Dialect.LEGACY:  # a 0-d array or numpy scalar keeps its dtype (a 0-d array: '>f8' too)
        w.scalar(position if isinstance(position, (np.generic, np.ndarray)) else position_value(position))
    else:
        _dwa(w, position if isinstance(position, DataWithAxes) else data_actuator(position), layout)


def _done_payload(w: _Writer, data: Any, dialect: Dialect, layout: DwaLayout) -> None:
    if dialect is Dialect.LEGACY:
        if isinstance(data, DataToExport):  # legacy carries only arrays: flatten every channel
            data = [array for dwa in data.data for array in dwa.data]
        _list(w, [np.asarray(a) for a in data], layout, True)
    else:
        if not isinstance(data, DataToExport):
            data = DataToExport('data', data=[DataWithAxes('data', data=[np.asarray(a)], origin='data',
                                                           class_name='DataFromPlugins')
                                              for a in data])
        _dte(w, data, layout)


class Encoder:
    """Encodes messages for one connection.

    Args:
        dialect: ``Dialect.LEGACY`` or ``Dialect.PYMODAQ4`` (decides position and data payloads).
        layout: the pymodaq4 DWA layout to write (default 4.4, WIRE.md §1.9).
    """

    def __init__(self, dialect: Union[Dialect, str] = Dialect.LEGACY,
                 layout: DwaLayout = DwaLayout.V4_4) -> None:
        self.dialect = Dialect.parse(dialect)
        self.layout = layout

    def encode(self, message: Message) -> List[Buffer]:
        """Buffers of one message; ``b''.join`` them for the bytes.

        Raises:
            EncodeError: a value that the dialect cannot carry, or a length over 2**32-1.
        """
        w = _Writer()
        if isinstance(message, ClientType):
            w.string(message.client_type)
            return w.finish()
        w.string(command_string(message))
        if isinstance(message, _PositionMessage):
            _position(w, message.position, self.dialect, self.layout)
        elif isinstance(message, Done):
            _done_payload(w, message.data, self.dialect, self.layout)
        elif isinstance(message, Infos):
            w.string(message.xml)
        elif isinstance(message, Info):
            w.string(message.name)
            w.string(message.value)
        elif isinstance(message, (InfoXml, SetInfo)):
            _list(w, [str(p) for p in message.path], self.layout, True)
            w.string(message.xml)
        elif isinstance(message, AxisInfo):
            w.array(np.asarray(message.values))
            w.string(message.label)
            w.string(message.units)
        return w.finish()

    def encode_bytes(self, message: Message) -> bytes:
        """The whole message as one ``bytes`` (copies; for tests and small messages)."""
        return b''.join(self.encode(message))

