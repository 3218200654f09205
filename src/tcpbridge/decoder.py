"""Incremental ("sans I/O") decoder of the PyMoDAQ TCP protocol, both dialects (WIRE.md §1-2, §6).

Bytes go in, :mod:`tcpbridge.messages` objects come out, whatever the chunking.  The decoder offers
the buffer protocol of :class:`asyncio.BufferedProtocol`: a transport calls
``sock.recv_into(decoder.get_buffer())`` then ``decoder.buffer_updated(n)``.  A large field (an
array's bytes) is received straight into a buffer of exactly its size, allocated only after its
length was checked against the :class:`~tcpbridge.limits.Limits`, and handed to numpy as a view:
receiving a frame holds one copy of it.  :meth:`Decoder.feed` does the same for bytes at hand.

Every error is a :class:`~tcpbridge.errors.ProtocolError`; after one, the stream cannot be
resynchronised (no envelope, WIRE.md §1) and the decoder refuses further input.
"""
from __future__ import annotations

import enum
import math
import sys
from collections import deque
from typing import Any, Generator, List, Optional

import numpy as np

from .data import (DIMS, DISTRIBUTIONS, DWA_CLASSES, SOURCES, Axis, DataToExport, DataWithAxes,
                   SerializedParameter)
from .dialects import Dialect, DwaLayout
from .dtypes import dtype_from_wire
from .errors import (InvalidText, ListTooLong, MalformedPayload, NestingTooDeep, PayloadTooLarge,
                     ProtocolError, ShapeMismatch, StringTooLong, TooManyDimensions, UnknownCommand,
                     UnknownTag)
from .limits import DEFAULT_LIMITS, Limits
from .messages import (CLIENT_TO_SERVER, DATA_DIMS, SERVER_TO_CLIENT, AxisInfo, ClientType, Done,
                       Info, InfoXml, Infos, Message, SendData, SetInfo, _PositionMessage)

#: a parser generator yields the number of bytes it needs and is sent exactly that many
Parse = Generator[int, Any, Any]


class Role(str, enum.Enum):
    """Which side decodes: ``SERVER`` reads what clients send (hello first), ``CLIENT`` the reverse."""

    SERVER = 'server'
    CLIENT = 'client'


def _preview(data: bytes) -> str:
    return repr(bytes(data[:40])) + ('...' if len(data) > 40 else '')


class _Parser:
    """The payload grammar of WIRE.md §1, as generators over exact byte counts."""

    def __init__(self, limits: Limits, old_layout: DwaLayout) -> None:
        self.limits = limits
        self.old_layout = old_layout
        self.total = 0
        self.depth = 0
        self.layout: Optional[DwaLayout] = None

    def reset(self) -> None:
        self.total = 0
        self.depth = 0
        self.layout = None

    # -- primitives -------------------------------------------------------------------------
    def take(self, n: int) -> Parse:
        total = self.total + n
        if total > self.limits.max_payload_bytes:
            raise PayloadTooLarge(f'message would reach {total} bytes ({n} announced for one field), '
                                  f'over the limit of {self.limits.max_payload_bytes} bytes')
        self.total = total
        return (yield n)

    def u32(self) -> Parse:
        return int.from_bytes((yield from self.take(4)), 'big')

    def text(self, n: int, what: str) -> Parse:
        data = yield from self.take(n)
        try:
            return bytes(data).decode('utf-8')
        except UnicodeDecodeError as error:
            raise InvalidText(f'{what} is not valid UTF-8 ({error.reason} at byte {error.start}): '
                              f'{_preview(data)}') from None

    def string(self, what: str = 'string', limit: Optional[int] = None, n: Optional[int] = None) -> Parse:
        """STR (WIRE.md §1.2); ``n`` when the length was already read."""
        if n is None:
            n = yield from self.u32()
        limit = self.limits.max_string_bytes if limit is None else limit
        if n > limit:
            raise StringTooLong(f'{what} of {n} bytes announced, over the limit of {limit} bytes')
        return (yield from self.text(n, what))

    def dtype(self, n: Optional[int] = None) -> Parse:
        return dtype_from_wire((yield from self.string('dtype', 8, n)))

    def scalar(self, what: str = 'scalar', dtype_len: Optional[int] = None) -> Parse:
        """SCALAR (WIRE.md §1.3) as a Python number (bool, int, float or complex)."""
        dtype = yield from self.dtype(dtype_len)
        nbytes = yield from self.u32()
        if nbytes != dtype.itemsize:
            raise ShapeMismatch(f'{what} of dtype {dtype.str} announced {nbytes} bytes, '
                                f'expected {dtype.itemsize}')
        return np.frombuffer((yield from self.take(nbytes)), dtype)[0].item()

    def array(self) -> Parse:
        """NDARRAY (WIRE.md §1.4), returned as a view of the received bytes, shape as sent."""
        dtype = yield from self.dtype()
        nbytes = yield from self.u32()
        ndim = yield from self.u32()
        if ndim > self.limits.max_ndim:
            raise TooManyDimensions(f'array of {ndim} dimensions announced, limit {self.limits.max_ndim}')
        shape = []
        for _ in range(ndim):
            shape.append((yield from self.u32()))
        if math.prod(shape) * dtype.itemsize != nbytes:
            raise ShapeMismatch(f'array of shape {tuple(shape)} and dtype {dtype.str} needs '
                                f'{math.prod(shape) * dtype.itemsize} bytes, {nbytes} announced')
        raw = yield from self.take(nbytes)
        return np.frombuffer(raw, dtype).reshape(shape)

    def count(self, what: str) -> Parse:
        n = yield from self.u32()
        if n > self.limits.max_list_length:
            raise ListTooLong(f'{what} of {n} items announced, limit {self.limits.max_list_length}')
        return n

    # -- lists --------------------------------------------------------------------------------
    def items(self, what: str = 'list', n: Optional[int] = None, tag_len: Optional[int] = None) -> Parse:
        """LIST (WIRE.md §1.5); ``n`` / ``tag_len`` when already read from the stream."""
        if n is None:
            n = yield from self.count(what)
        elif n > self.limits.max_list_length:
            raise ListTooLong(f'{what} of {n} items announced, limit {self.limits.max_list_length}')
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise NestingTooDeep(f'lists nested deeper than {self.limits.max_depth} levels')
        out = []
        for i in range(n):
            out.append((yield from self.item(tag_len if i == 0 else None)))
        self.depth -= 1
        return out

    def typed_items(self, kind: type, what: str) -> Parse:
        out = yield from self.items(what)
        for value in out:
            if not isinstance(value, kind):
                raise MalformedPayload(f'{what} holds a {type(value).__name__}, expected {kind.__name__}')
        return out

    def item(self, tag_len: Optional[int] = None) -> Parse:
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
        got = yield from self.string('class name', 32, n)
        if got != expected:
            raise MalformedPayload(f'expected class {expected!r}, got {got!r}')

    def axis(self) -> Parse:
        """AXIS (WIRE.md §1.6)."""
        yield from self.expect('Axis')
        label = yield from self.string('axis label')
        units = yield from self.string('axis units')
        data = yield from self.array()
        index = yield from self.scalar('axis index')
        spread_order = yield from self.scalar('axis spread order')
        return Axis(label, units, data, int(index), int(spread_order))

    def choice(self, what: str, allowed: tuple) -> Parse:
        value = yield from self.string(what, 32)
        if value not in allowed:
            raise MalformedPayload(f'{what} {value!r} is not one of {allowed}')
        return value

    def dwa(self, class_len: Optional[int] = None) -> Parse:
        """DWA (WIRE.md §1.7); the 4.4 layout is told from older ones by the bytes (WIRE.md §6)."""
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise NestingTooDeep(f'objects nested deeper than {self.limits.max_depth} levels')
        class_name = yield from self.string('DataWithAxes class', 32, class_len)
        if class_name not in DWA_CLASSES:
            raise MalformedPayload(f'unknown DataWithAxes class {class_name!r}')
        timestamp = yield from self.scalar('timestamp')
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
        return DataWithAxes(name=name, data=data, class_name=class_name, units=units, source=source,
                            dim=dim, distribution=distribution, labels=labels, origin=origin,
                            nav_indexes=tuple(nav_indexes), axes=axes, errors=errors,
                            extra_attributes=extras, timestamp=float(timestamp))

    def dte(self, class_len: Optional[int] = None, class_checked: bool = False) -> Parse:
        """DTE (WIRE.md §1.8)."""
        if not class_checked:
            yield from self.expect('DataToExport', class_len)
        timestamp = yield from self.scalar('timestamp')
        name = yield from self.string('DataToExport name')
        data = yield from self.typed_items(DataWithAxes, 'DataToExport content')
        return DataToExport(name=name, data=data, timestamp=float(timestamp))

    # -- message payloads -----------------------------------------------------------------------
    def done(self) -> Parse:
        """``Done`` payload: legacy LIST or pymodaq4 DTE, told apart by 8 bytes (WIRE.md §6)."""
        first = yield from self.u32()
        tag_len = None
        if first == 12:
            head = yield from self.take(4)
            if bytes(head) == b'Data':
                rest = bytes((yield from self.take(8)))
                if rest != b'ToExport':
                    raise MalformedPayload(f"expected 'DataToExport' after Done, got 'Data{rest!r}'")
                dte = yield from self.dte(class_checked=True)
                return Done(dte, Dialect.PYMODAQ4, self.layout or self.old_layout)
            tag_len = int.from_bytes(head, 'big')
        items = yield from self.items('Done data', first, tag_len)
        arrays = []
        for value in items:
            if not isinstance(value, (np.ndarray, bool, int, float, complex)):
                raise MalformedPayload(f'legacy Done data holds a {type(value).__name__}, expected arrays')
            arrays.append(np.asarray(value))
        return Done(arrays, Dialect.LEGACY)

    def position(self, cls: type) -> Parse:
        """Legacy SCALAR or pymodaq4 DataActuator, told apart by the first U32 (WIRE.md §6)."""
        first = yield from self.u32()
        if first <= 4:  # a dtype string ('<f8', '<c16'); no DWA class name is that short
            return cls((yield from self.scalar('position', first)), Dialect.LEGACY)
        dwa = yield from self.dwa(first)
        if not dwa.data or dwa.data[0].size == 0:
            raise MalformedPayload(f'{cls.command} carries a {dwa.class_name} without a value')
        return cls(dwa, Dialect.PYMODAQ4, self.layout)

    def path_and_xml(self, cls: type) -> Parse:
        path = yield from self.typed_items(str, f'{cls.command} path')
        return cls(tuple(path), (yield from self.string(f'{cls.command} xml')))

    def hello(self) -> Parse:
        return ClientType((yield from self.string('client type', self.limits.max_command_bytes)))

    def command(self) -> Parse:
        return (yield from self.string('command string', self.limits.max_command_bytes))

    def client_message(self) -> Parse:
        """A message sent by a client (WIRE.md §2.3)."""
        cmd = yield from self.command()
        cls = CLIENT_TO_SERVER.get(cmd)
        if cls is Done:
            return (yield from self.done())
        if cls is not None and issubclass(cls, _PositionMessage):
            return (yield from self.position(cls))
        if cls is Infos:
            return Infos((yield from self.string('Infos xml')))
        if cls is Info:
            name = yield from self.string('Info name')
            return Info(name, (yield from self.string('Info value')))
        if cls is InfoXml:
            return (yield from self.path_and_xml(InfoXml))
        if cls is not None:
            return cls()
        if cmd in ('x_axis', 'y_axis'):
            values = yield from self.array()
            label = yield from self.string('axis label')
            return AxisInfo(cmd[0], values, label, (yield from self.string('axis units')))
        raise UnknownCommand(f'unknown command {cmd!r} from the client')

    def server_message(self) -> Parse:
        """A message sent by a server (WIRE.md §2.2)."""
        cmd = yield from self.command()
        if cmd.startswith('Send Data '):
            if cmd[10:] not in DATA_DIMS:
                raise UnknownCommand(f'unknown command {cmd!r}: Send Data takes 0D, 1D, 2D or ND')
            return SendData(cmd[10:])
        cls = SERVER_TO_CLIENT.get(cmd)
        if cls is None:
            raise UnknownCommand(f'unknown command {cmd!r} from the server')
        if issubclass(cls, _PositionMessage):
            return (yield from self.position(cls))
        if cls is SetInfo:
            return (yield from self.path_and_xml(SetInfo))
        return cls()


class BufferPool:
    """Large receive buffers, reused once nothing references them any more.

    Memory fresh from the OS costs a page fault per page on first touch (on a VM, 10-20 ms for an
    8 MiB frame, more than receiving it); a buffer whose arrays have all been dropped is handed out
    again instead.  A buffer is reused only when the pool holds the last reference to it, so a frame
    still kept by PyMoDAQ is never overwritten.  At most ``max_buffers`` are kept.
    """

    def __init__(self, max_buffers: int = 4) -> None:
        self.max_buffers = max_buffers
        self._buffers: List[np.ndarray] = []

    def get(self, nbytes: int) -> np.ndarray:
        """An uninitialised uint8 buffer of ``nbytes`` bytes (a reused one if possible)."""
        for buffer in self._buffers:
            # references: the list, ``buffer`` and getrefcount's argument: nobody else has it
            if buffer.nbytes == nbytes and sys.getrefcount(buffer) == 3:
                return buffer
        buffer = np.empty(nbytes, dtype=np.uint8)
        self._buffers.append(buffer)
        if len(self._buffers) > self.max_buffers:
            self._buffers.pop(0)  # the oldest: the pool forgets it, its users keep it alive
        return buffer


class Decoder:
    """Incremental decoder for one connection.

    Args:
        role: ``Role.SERVER`` decodes client messages (the first one is the hello, a
            :class:`~tcpbridge.messages.ClientType`); ``Role.CLIENT`` decodes server commands.
        limits: bounds checked before anything is allocated.
        old_layout: layout assumed for a pymodaq4 DWA without units: ``DwaLayout.V4_2`` (4.2-4.3,
            the default), or ``V4_1_3`` / ``V4_1_0`` for PyMoDAQ 4.1 peers (not detectable, WIRE.md §6).

    Use :meth:`feed` (bytes at hand) or :meth:`get_buffer` / :meth:`buffer_updated` (``recv_into``),
    then :meth:`pop_messages`.  Decoded arrays are writable views of the received bytes.
    """

    #: size of the reusable buffer for small fields
    BUFFER_SIZE = 256 * 1024
    #: a field larger than this is received into a buffer of its own, without an extra copy
    DIRECT_THRESHOLD = 64 * 1024

    def __init__(self, role: Role = Role.SERVER, limits: Limits = DEFAULT_LIMITS,
                 old_layout: DwaLayout = DwaLayout.V4_2) -> None:
        self.role = Role(role)
        self._parser = _Parser(limits, old_layout)
        self._buf = bytearray(self.BUFFER_SIZE)
        self._start = 0
        self._end = 0
        self._big: Optional[np.ndarray] = None
        self._pool = BufferPool()
        self._big_fill = 0
        self._messages: deque = deque()
        self._error: Optional[ProtocolError] = None
        self._hello_pending = self.role is Role.SERVER
        self._gen: Parse
        self._need = 0
        self._next_message()

    @property
    def in_message(self) -> bool:
        """True while part of a message has been received (a peer that stops here is truncated)."""
        # the first field of a message is already counted in total when nothing of it has come
        return self._parser.total > self._need or self._end > self._start or self._big is not None

    def _next_message(self) -> None:
        self._parser.reset()
        if self._hello_pending:
            self._gen = self._parser.hello()
        elif self.role is Role.SERVER:
            self._gen = self._parser.client_message()
        else:
            self._gen = self._parser.server_message()
        self._need = next(self._gen)

    def _deliver(self, chunk: Any) -> None:
        try:
            self._need = self._gen.send(chunk)
        except StopIteration as done:
            self._messages.append(done.value)
            self._hello_pending = False
            self._next_message()
        except ProtocolError as error:
            self._error = error
            raise

    def get_buffer(self) -> memoryview:
        """Writable memory for the next received bytes (``sock.recv_into(decoder.get_buffer())``)."""
        if self._error is not None:
            raise self._error
        if self._big is not None:
            return memoryview(self._big)[self._big_fill:]
        if self._end == len(self._buf):
            self._compact()
        return memoryview(self._buf)[self._end:]

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were written at the start of the last :meth:`get_buffer`.

        Raises:
            ProtocolError: the bytes break the protocol; the connection must be closed.
        """
        if self._error is not None:
            raise self._error
        if self._big is not None:
            self._big_fill += nbytes
            if self._big_fill < self._need:
                return
            big, self._big = self._big, None
            self._deliver(memoryview(big))
        else:
            self._end += nbytes
        self._process()

    def _process(self) -> None:
        while True:
            available = self._end - self._start
            if available >= self._need:
                start, self._start = self._start, self._start + self._need
                self._deliver(self._buf[start:self._start])
                continue
            if self._need > self.DIRECT_THRESHOLD:  # allocate only now: the size was checked
                # no zero-filling pass over memory that recv_into overwrites anyway
                self._big = self._pool.get(self._need)
                self._big[:available] = np.frombuffer(self._buf, np.uint8, available, self._start)
                self._big_fill = available
                self._start = self._end = 0
            elif self._need > len(self._buf) - self._start:
                self._compact()
            return

    def _compact(self) -> None:
        available = self._end - self._start
        self._buf[:available] = self._buf[self._start:self._end]
        self._start, self._end = 0, available

    def feed(self, data: bytes) -> List[Message]:
        """Decode ``data`` (any chunk of the stream) and return the messages completed so far.

        Raises:
            ProtocolError: the bytes break the protocol; the connection must be closed.
        """
        view = memoryview(data)
        while view.nbytes:
            target = self.get_buffer()
            n = min(target.nbytes, view.nbytes)
            target[:n] = view[:n]
            view = view[n:]
            self.buffer_updated(n)
        return self.pop_messages()

    def pop_messages(self) -> List[Message]:
        """The messages decoded since the last call, oldest first."""
        out = list(self._messages)
        self._messages.clear()
        return out
