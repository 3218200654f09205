"""The field grammar shared by the legacy and pymodaq4 dialects (docs/protocol.rst §1): how STR, SCALAR,
NDARRAY, LIST, AXIS, DWA and DTE are read and written.

:class:`Reader` reads them as generators over exact byte counts (it yields how many bytes it
needs, is sent exactly that many), so the same code serves every chunking of the stream and lets
the decoder receive a large field straight into a buffer of its own.  :class:`Writer` writes them
as a list of buffers in which a large array stays a view of the numpy memory (zero copy).

Every length, count and depth is checked against :class:`~tcpbridge.protocol.limits.Limits`
*before* anything of the claimed size exists, and every numeric field is validated (finite, real
or integral where the grammar needs it): bad input raises a :class:`ProtocolError` subclass only.
"""
from __future__ import annotations

import math
import struct
from typing import Any, Generator, List, Optional, Tuple, Union

import numpy as np

from .data import DIMS, DISTRIBUTIONS, DWA_CLASSES, SOURCES, Axis, DataToExport, DataWithAxes, SerializedParameter
from .dialects import DwaLayout
from .dtypes import dtype_from_wire, dtype_to_wire
from .errors import (
    EncodeError,
    InvalidText,
    ListTooLong,
    MalformedPayload,
    NestingTooDeep,
    PayloadTooLarge,
    ShapeMismatch,
    StringTooLong,
    TooManyDimensions,
    UnknownTag,
)
from .limits import Limits

#: a reader generator yields the number of bytes it needs and is sent exactly that many
Parse = Generator[int, Any, Any]
Buffer = Union[bytes, memoryview]
#: arrays at least this large are sent from their own memory instead of being copied
ZERO_COPY_BYTES = 64 * 1024
U32_MAX = 0xFFFFFFFF
_U32 = struct.Struct('>I')
#: the largest integer a SCALAR may carry where the grammar wants an index or an order
_MAX_INDEX = 1 << 31


def preview(data: Any) -> str:
    """The first 40 bytes of ``data`` as a ``repr``, for error messages."""
    return repr(bytes(data[:40])) + ('...' if len(data) > 40 else '')


def foreign_hint(length: int) -> str:
    """For an error message: the 4 bytes of a length field read back as text when they are printable
    ASCII, the sign of a peer speaking another protocol (an HTTP server answers ``HTTP``...); else ''."""
    raw = length.to_bytes(4, 'big') if 0 <= length < 1 << 32 else b''
    if raw and all(32 <= byte < 127 for byte in raw):
        return f' (those 4 length bytes read {raw.decode("ascii")!r}: the other end does not speak this protocol?)'
    return ''


#: the longest dtype string of the whitelist ('<c16' is 4 bytes); no DWA class name is that short, so
#: the first U32 of a position tells a legacy SCALAR from a pymodaq4 DWA (docs/protocol.rst §6)
MAX_DTYPE_LEN = 4


def finite(value: Any, what: str) -> float:
    """``value`` as a float if it is a finite real number (a timestamp...).

    Raises:
        MalformedPayload: complex, NaN or infinite.
    """
    if isinstance(value, complex) or not math.isfinite(value):
        raise MalformedPayload(f'{what} must be a finite real number, got {value!r}')
    return float(value)


def check_position(position: Any) -> Any:
    """``position`` (a number, or a DataWithAxes holding it, every dialect) if it holds a value that is
    not NaN (an infinite one is a valid limit switch reading).

    Raises:
        MalformedPayload: an empty DataWithAxes, or NaN.
    """
    value = position
    if isinstance(position, DataWithAxes):
        if position.data[0].size == 0:
            raise MalformedPayload(f'position carries a {position.class_name} without a value')
        value = position.value
    if isinstance(value, float) and value != value:
        raise MalformedPayload('position is NaN')
    return position


class Reader:
    """The field grammar of docs/protocol.rst §1, as generators over exact byte counts.

    Args:
        limits: bounds checked before anything is allocated.
        old_layout: layout assumed for a DWA without units (4.1-4.3 are not told apart by bytes).

    ``total`` counts the bytes of the current message (checked against ``max_payload_bytes``),
    ``layout`` is the DWA layout seen in it (None before any DWA).
    """

    def __init__(self, limits: Limits, old_layout: DwaLayout = DwaLayout.V4_2) -> None:
        self.limits = limits
        self.old_layout = old_layout
        self.total = 0
        self.depth = 0
        self.layout: Optional[DwaLayout] = None

    def reset(self) -> None:
        """Start a new message."""
        self.total = 0
        self.depth = 0
        self.layout = None

    # -- primitives -------------------------------------------------------------------------
    def take(self, n: int) -> Parse:
        """``n`` raw bytes.  Raises PayloadTooLarge if the message would pass ``max_payload_bytes``."""
        total = self.total + n
        if total > self.limits.max_payload_bytes:
            raise PayloadTooLarge(f'message would reach {total} bytes ({n} announced for one field), '
                                  f'over the limit of {self.limits.max_payload_bytes} bytes')
        self.total = total
        return (yield n)

    def u32(self) -> Parse:
        """U32, big-endian (docs/protocol.rst §1.1)."""
        return int.from_bytes((yield from self.take(4)), 'big')

    def text(self, n: int, what: str) -> Parse:
        """``n`` bytes of UTF-8.  Raises InvalidText."""
        data = yield from self.take(n)
        try:
            return bytes(data).decode('utf-8')
        except UnicodeDecodeError as error:
            raise InvalidText(f'{what} is not valid UTF-8 ({error.reason} at byte {error.start}): '
                              f'{preview(data)}') from None

    def string(self, what: str = 'string', limit: Optional[int] = None, n: Optional[int] = None) -> Parse:
        """STR (docs/protocol.rst §1.2); ``n`` when the length was already read.  Raises StringTooLong."""
        if n is None:
            n = yield from self.u32()
        limit = self.limits.max_string_bytes if limit is None else limit
        if n > limit:
            raise StringTooLong(f'{what} of {n} bytes announced, over the limit of {limit} bytes{foreign_hint(n)}')
        return (yield from self.text(n, what))

    def dtype(self, n: Optional[int] = None) -> Parse:
        """A whitelisted dtype string (docs/protocol.rst §4.16).  Raises InvalidDtype."""
        return dtype_from_wire((yield from self.string('dtype', 8, n)))

    def scalar(self, what: str = 'scalar', dtype_len: Optional[int] = None) -> Parse:
        """SCALAR (docs/protocol.rst §1.3) as a Python number (bool, int, float or complex)."""
        dtype = yield from self.dtype(dtype_len)
        nbytes = yield from self.u32()
        if nbytes != dtype.itemsize:
            raise ShapeMismatch(f'{what} of dtype {dtype.str} announced {nbytes} bytes, '
                                f'expected {dtype.itemsize}')
        return np.frombuffer((yield from self.take(nbytes)), dtype)[0].item()

    def real(self, what: str) -> Parse:
        """A SCALAR that must be a finite real number (a timestamp...), as a float."""
        return finite((yield from self.scalar(what)), what)

    def integer(self, what: str) -> Parse:
        """A SCALAR that must be an integer in [0, 2**31) (an index, an order), as an int."""
        value = yield from self.scalar(what)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_INDEX:
            raise MalformedPayload(f'{what} must be an integer in [0, 2**31), got {value!r}')
        return value

    def array(self) -> Parse:
        """NDARRAY (docs/protocol.rst §1.4), returned as a view of the received bytes, shape as sent."""
        dtype = yield from self.dtype()
        nbytes = yield from self.u32()
        ndim = yield from self.u32()
        if ndim > self.limits.max_ndim:
            raise TooManyDimensions(f'array of {ndim} dimensions announced, limit {self.limits.max_ndim}')
        shape = []
        for _ in range(ndim):
            shape.append((yield from self.u32()))
        elements = math.prod(shape)
        if elements * dtype.itemsize != nbytes:
            raise ShapeMismatch(f'array of shape {tuple(shape)} and dtype {dtype.str} needs '
                                f'{elements * dtype.itemsize} bytes, {nbytes} announced')
        if elements == 0 and math.prod(d for d in shape if d) > self.limits.max_payload_bytes:
            raise ShapeMismatch(f'array of shape {tuple(shape)} holds no data but its other dimensions '
                                f'pass the message limit of {self.limits.max_payload_bytes}')
        raw = yield from self.take(nbytes)
        return np.frombuffer(raw, dtype).reshape(shape)

    def count(self, what: str) -> Parse:
        """A U32 item count.  Raises ListTooLong."""
        n = yield from self.u32()
        if n > self.limits.max_list_length:
            raise ListTooLong(f'{what} of {n} items announced, limit {self.limits.max_list_length}')
        return n

    def _enter(self, what: str) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise NestingTooDeep(f'{what} nested deeper than {self.limits.max_depth} levels')

    # -- lists --------------------------------------------------------------------------------
    def items(self, what: str = 'list', n: Optional[int] = None, tag_len: Optional[int] = None) -> Parse:
        """LIST (docs/protocol.rst §1.5); ``n`` / ``tag_len`` when already read from the stream."""
        if n is None:
            n = yield from self.count(what)
        elif n > self.limits.max_list_length:
            raise ListTooLong(f'{what} of {n} items announced, limit {self.limits.max_list_length}')
        self._enter('lists')
        out = []
        for i in range(n):
            out.append((yield from self.item(tag_len if i == 0 else None)))
        self.depth -= 1
        return out

    def typed_items(self, kind: Union[type, Tuple[type, ...]], what: str) -> Parse:
        """A LIST whose items must all be of ``kind``.  Raises MalformedPayload."""
        out = yield from self.items(what)
        for value in out:
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                expected = kind.__name__ if isinstance(kind, type) else ' or '.join(k.__name__ for k in kind)
                raise MalformedPayload(f'{what} holds a {type(value).__name__}, expected {expected}')
        return out

    def item(self, tag_len: Optional[int] = None) -> Parse:
        """One type-tagged item (docs/protocol.rst §1.5).  Raises UnknownTag."""
        tag = yield from self.string('list item tag', 16, tag_len)
        if tag == 'array':
            return (yield from self.array())
        if tag == 'string':
            return (yield from self.string())
        if tag == 'scalar':
            return (yield from self.scalar())
        if tag == 'bool':
            return bool((yield from self.scalar()))
        if tag == 'list':
            return (yield from self.items())
        if tag == 'bytes':
            n = yield from self.u32()
            return bytes((yield from self.take(n)))
        if tag == 'axis':
            return (yield from self.axis())
        if tag == 'dwa':
            return (yield from self.dwa())
        if tag == 'dte':
            return (yield from self.dte())
        if tag == 'parameter':
            path = yield from self.typed_items(str, 'parameter path')
            return SerializedParameter(tuple(path), (yield from self.string('parameter xml')))
        raise UnknownTag(f'unknown list item tag {tag!r}')

    # -- pymodaq4 objects ---------------------------------------------------------------------
    def expect(self, expected: str, n: Optional[int] = None) -> Parse:
        """A class-name STR that must equal ``expected``."""
        got = yield from self.string('class name', 32, n)
        if got != expected:
            raise MalformedPayload(f'expected class {expected!r}, got {got!r}')

    def choice(self, what: str, allowed: Tuple[str, ...]) -> Parse:
        """A STR that must be one of ``allowed``."""
        value = yield from self.string(what, 32)
        if value not in allowed:
            raise MalformedPayload(f'{what} {value!r} is not one of {allowed}')
        return value

    def axis(self) -> Parse:
        """AXIS (docs/protocol.rst §1.6)."""
        yield from self.expect('Axis')
        label = yield from self.string('axis label')
        units = yield from self.string('axis units')
        data = yield from self.array()
        if data.dtype.kind == 'c':
            raise MalformedPayload(f'axis {label!r} has complex values')
        index = yield from self.integer('axis index')
        spread_order = yield from self.integer('axis spread order')
        return Axis(label, units, data, index, spread_order)

    def dwa(self, class_len: Optional[int] = None) -> Parse:
        """DWA (docs/protocol.rst §1.7); the 4.4 layout is told from older ones by the bytes (docs/protocol.rst §6)."""
        self._enter('objects')
        class_name = yield from self.string('DataWithAxes class', 32, class_len)
        if class_name not in DWA_CLASSES:
            raise MalformedPayload(f'unknown DataWithAxes class {class_name!r}')
        timestamp = yield from self.real('timestamp')
        name = yield from self.string('data name')
        first = yield from self.string('units or source')
        second = yield from self.string('source or dim', 32)
        if first in SOURCES and second in DIMS:
            layout, units, source, dim = self.old_layout, '', first, second
        elif second in SOURCES:
            layout, units, source = DwaLayout.V4_4, first, second
            dim = yield from self.choice('dim', DIMS)
        else:
            raise MalformedPayload(f'after the name {name!r}: {first[:40]!r}, {second!r} is neither '
                                   'units + source (4.4) nor source + dim (4.1-4.3)')
        self.layout = layout
        distribution = yield from self.choice('distribution', DISTRIBUTIONS)
        data = yield from self.typed_items(np.ndarray, 'data')
        labels = yield from self.typed_items(str, 'labels')
        origin = yield from self.string('origin')
        nav_indexes = yield from self.typed_items(int, 'nav_indexes')
        axes = yield from self.typed_items(Axis, 'axes')
        errors = (yield from self.typed_items(np.ndarray, 'errors')) if layout.has_errors else []
        extras = {}
        if layout.has_extras:
            for key in (yield from self.typed_items(str, 'extra attribute names')):
                extras[key] = yield from self.item()
        self.depth -= 1
        check_dwa(name, data, nav_indexes, axes, errors)
        return DataWithAxes(name=name, data=data, class_name=class_name, units=units, source=source,
                            dim=dim, distribution=distribution, labels=labels, origin=origin,
                            nav_indexes=tuple(nav_indexes), axes=axes, errors=errors,
                            extra_attributes=extras, timestamp=timestamp)

    def dte(self, class_len: Optional[int] = None, class_checked: bool = False) -> Parse:
        """DTE (docs/protocol.rst §1.8); ``class_checked`` when the class name was already read."""
        if not class_checked:
            yield from self.expect('DataToExport', class_len)
        timestamp = yield from self.real('timestamp')
        name = yield from self.string('DataToExport name')
        data = yield from self.typed_items(DataWithAxes, 'DataToExport content')
        return DataToExport(name=name, data=data, timestamp=timestamp)


def check_dwa(name: str, data: List[np.ndarray], nav_indexes: List[int], axes: List[Axis],
               errors: List[np.ndarray]) -> None:
    """What PyMoDAQ's DataWithAxes needs to be built from a DWA: channels of one shape, errors of
    that shape, axes and navigation indexes inside it."""
    if not data:
        raise MalformedPayload(f'data {name!r} has no channel')
    shape = data[0].shape
    if any(a.shape != shape for a in data) or any(e.shape != shape for e in errors):
        raise MalformedPayload(f'data {name!r}: channels (and errors) of different shapes '
                               f'{sorted({a.shape for a in data + errors})}')
    ndim = max(len(shape), 1)
    if any(i >= ndim for i in nav_indexes) or any(a.index >= ndim for a in axes):
        raise MalformedPayload(f'data {name!r} of shape {shape}: an axis or navigation index is out of range')


class Writer:
    """Accumulates encoded fields; large arrays are kept as separate zero-copy views.

    ``finish()`` returns the buffers; ``b''.join`` them for the message bytes.  Raises EncodeError
    for values the grammar cannot carry.
    """

    __slots__ = ('chunks', 'head')

    def __init__(self) -> None:
        self.chunks: List[Buffer] = []
        self.head = bytearray()

    def u32(self, value: int) -> None:
        """U32, big-endian; EncodeError outside 0 .. 2**32-1."""
        if not 0 <= value <= U32_MAX:
            raise EncodeError(f'{value} does not fit the U32 length field (0 .. 2**32-1)')
        self.head += _U32.pack(value)

    def raw(self, data: bytes) -> None:
        """U32 length + bytes."""
        self.u32(len(data))
        self.head += data

    def string(self, text: Union[str, bytes]) -> None:
        """STR (docs/protocol.rst §1.2): U32 byte length + UTF-8 bytes."""
        self.raw(text.encode() if isinstance(text, str) else bytes(text))

    def scalar(self, value: Any) -> None:
        """SCALAR (docs/protocol.rst §1.3): STR(dtype) + U32(nbytes) + raw bytes."""
        array = np.asarray(value)
        if array.ndim != 0:
            raise EncodeError(f'a scalar was expected, got an array of shape {array.shape}')
        self.string(dtype_to_wire(array.dtype))
        self.raw(array.tobytes())

    def array(self, value: Any) -> None:
        """NDARRAY (docs/protocol.rst §1.4): dtype, nbytes, ndim, shape, raw bytes in C order."""
        array = np.asarray(value, order="C")  # ascontiguousarray would make 0-d arrays 1-d
        self.string(dtype_to_wire(array.dtype))
        self.u32(array.nbytes)
        self.u32(array.ndim)
        for dim in array.shape:
            self.u32(dim)
        if array.nbytes >= ZERO_COPY_BYTES:
            self.chunks.append(bytes(self.head))
            self.head = bytearray()
            self.chunks.append(array.reshape(-1).view(np.uint8).data)
        else:
            self.head += array.tobytes()

    def item(self, value: Any, layout: DwaLayout, legacy: bool) -> None:
        """One type-tagged list item (docs/protocol.rst §1.5); ``legacy`` allows arrays, strings and scalars only."""
        if isinstance(value, np.ndarray):
            self.string('array')
            self.array(value)
        elif isinstance(value, str):
            self.string('string')
            self.string(value)
        elif isinstance(value, (bool, np.bool_)):
            # the legacy reader knows no 'bool' tag: PyMoDAQ <= 4.4.6 wrote a scalar
            self.string('scalar' if legacy else 'bool')
            self.scalar(np.bool_(value))
        elif isinstance(value, (int, float, complex, np.number)):
            self.string('scalar')
            self.scalar(value)
        elif legacy:
            raise EncodeError(f'the legacy dialect cannot carry {type(value).__name__} items '
                              '(arrays, strings, scalars only)')
        elif isinstance(value, (bytes, bytearray)):
            self.string('bytes')
            self.raw(bytes(value))
        elif isinstance(value, (list, tuple)):
            self.string('list')
            self.list(value, layout)
        elif isinstance(value, Axis):
            self.string('axis')
            self.axis(value)
        elif isinstance(value, DataWithAxes):
            self.string('dwa')
            self.dwa(value, layout)
        elif isinstance(value, DataToExport):
            self.string('dte')
            self.dte(value, layout)
        elif isinstance(value, SerializedParameter):
            self.string('parameter')
            self.list(list(value.path), layout)
            self.string(value.xml)
        else:
            raise EncodeError(f'cannot put a {type(value).__name__} in a list on the wire')

    def list(self, items: Any, layout: DwaLayout = DwaLayout.V4_4, legacy: bool = False) -> None:
        """LIST (docs/protocol.rst §1.5): U32 count + tagged items."""
        self.u32(len(items))
        for value in items:
            self.item(value, layout, legacy)

    def axis(self, axis: Axis) -> None:
        """AXIS (docs/protocol.rst §1.6)."""
        self.string('Axis')
        self.string(axis.label)
        self.string(axis.units)
        self.array(np.asarray(axis.data))
        self.scalar(int(axis.index))
        self.scalar(int(axis.spread_order))

    def dwa(self, dwa: DataWithAxes, layout: DwaLayout) -> None:
        """DWA (docs/protocol.rst §1.7), fields as ``layout`` has them."""
        self.string(dwa.class_name)
        self.scalar(float(dwa.timestamp))
        self.string(dwa.name)
        if layout.has_units:
            self.string(dwa.units)
        self.string(dwa.source)
        self.string(dwa.dim or 'Data0D')
        self.string(dwa.distribution)
        self.list(dwa.data, layout)
        self.list(list(dwa.labels), layout)
        self.string(dwa.origin)
        self.list([int(i) for i in dwa.nav_indexes], layout)
        self.list(dwa.axes, layout)
        if layout.has_errors:
            self.list(dwa.errors, layout)
        if layout.has_extras:
            self.list(list(dwa.extra_attributes), layout)
            for value in dwa.extra_attributes.values():
                self.item(value, layout, False)

    def dte(self, dte: DataToExport, layout: DwaLayout) -> None:
        """DTE (docs/protocol.rst §1.8)."""
        self.string('DataToExport')
        self.scalar(float(dte.timestamp))
        self.string(dte.name)
        self.list(dte.data, layout)

    def extend(self, chunks: List[Buffer]) -> None:
        """Append buffers finished by another writer (large ones stay separate views)."""
        for chunk in chunks:
            if isinstance(chunk, bytes):
                self.head += chunk
            else:
                self.chunks.append(bytes(self.head))
                self.head = bytearray()
                self.chunks.append(chunk)

    def finish(self) -> List[Buffer]:
        """The buffers written so far (the writer is empty afterwards)."""
        if self.head:
            self.chunks.append(bytes(self.head))
        chunks, self.chunks, self.head = self.chunks, [], bytearray()
        return chunks
