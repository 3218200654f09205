"""Incremental ("sans I/O") decoder of both framings, every dialect (docs/protocol.rst §1-2, §6-7).

Bytes go in, :mod:`tcpbridge.protocol.messages` objects come out, whatever the chunking.  The
decoder offers the buffer protocol of :class:`asyncio.BufferedProtocol`: a transport calls
``sock.recv_into(decoder.get_buffer())`` then ``decoder.buffer_updated(n)``.  A large field (an
array's bytes) is received straight into a buffer of exactly its size, reserved from the shared
:class:`~tcpbridge.protocol.limits.ReceiveBudget` and allocated only after its length passed the
limits, and handed to numpy as a view: receiving a frame holds one copy of it.  :meth:`Decoder.feed`
does the same for bytes at hand.

Every error is a :class:`~tcpbridge.protocol.errors.ProtocolError`; after one, the stream cannot
be resynchronised (no envelope, docs/protocol.rst §1) and the decoder refuses further input.
"""
from __future__ import annotations

import enum
import mmap
import weakref
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from .dialects import Dialect, DwaLayout
from .errors import MalformedPayload, ProtocolError
from .framings import MessageParser, framing
from .grammar import Parse, preview
from .limits import DEFAULT_LIMITS, Limits, ReceiveBudget
from .messages import ClientType, Message


class Side(str, enum.Enum):
    """Which side decodes: ``SERVER`` reads what clients send (hello first), ``CLIENT`` the reverse,
    ``OBSERVER`` the copies of the client's messages a server shares with an observer (no hello)."""

    SERVER = 'server'
    CLIENT = 'client'
    OBSERVER = 'observer'


#: the message a side reads after the hello
_NEXT_MESSAGE: Dict[Side, Callable[[MessageParser], Parse]] = {
    Side.SERVER: lambda reader: reader.client_message(),
    Side.CLIENT: lambda reader: reader.server_message(),
    Side.OBSERVER: lambda reader: reader.observed_message(),
}


#: anonymous mappings private to the process where the OS has them (POSIX): a shared one
#: (``mmap``'s default) is backed by shmem, whose pages cost a page-cache insertion and removal each
_PRIVATE: Dict[str, int] = {'flags': mmap.MAP_PRIVATE} if hasattr(mmap, 'MAP_PRIVATE') else {}


class BufferPool:
    """Large receive buffers, handed out again once every array made from them is gone.

    Memory fresh from the OS costs a page fault and a zeroed page per page on first touch (on a VM,
    10-20 ms for an 8 MiB frame, more than receiving it), and giving it back costs an ``munmap``.
    Each buffer (an anonymous private ``mmap``: no zero-filling pass of ours) is lent as a *lease*,
    a uint8 ndarray on it; the decoded arrays are views whose ``base`` is the lease (numpy stops
    collapsing view chains at an array whose memory belongs to a non-ndarray object).  When the
    last of them is collected, a ``weakref.finalize`` on the lease gives the buffer back (in
    whichever thread dropped it), so memory still held by a consumer is never overwritten.

    Buffers given back wait to be reused while they hold at most ``max_free_bytes`` (at least
    ``min_free`` buffers, whatever their size).  The bound matters for a stream that outpaces its
    consumer: the server's back-pressure (``tcpbridge.net.backlog``) then lets up to its bound of
    data sets in flight and releases half of them at once when the consumer catches up; a pool
    smaller than that burst gave most of them back to the OS and took fresh memory for the next
    ones (measured, benchmarks/bench_scale.py: 75 page faults per 512 KiB frame with 4 buffers, 7
    with the bound of the default back-pressure).  The default is that bound (64 MiB): the pool
    never holds more than what was in flight at once, until the connection closes.
    """

    def __init__(self, max_free_bytes: int = 64 << 20, min_free: int = 4) -> None:
        # deque operations are atomic: the finalizer may append from another thread, no lock needed
        self._free: Deque[mmap.mmap] = deque()
        self.max_free_bytes = max_free_bytes
        self.min_free = min_free

    def lease(self, nbytes: int) -> np.ndarray:
        """An uninitialised uint8 array of ``nbytes`` (> 0) bytes, on a free buffer if one fits."""
        buffer = None
        for _ in range(len(self._free)):
            try:
                candidate = self._free.popleft()
            except IndexError:
                break
            if len(candidate) == nbytes:
                buffer = candidate
                break
            self._free.append(candidate)
        if buffer is None:
            buffer = mmap.mmap(-1, nbytes, **_PRIVATE)
        lease = np.frombuffer(buffer, np.uint8)
        weakref.finalize(lease, self._give_back, buffer).atexit = False
        return lease

    @property
    def free(self) -> int:
        """Buffers waiting to be reused."""
        return len(self._free)

    def _give_back(self, buffer: mmap.mmap) -> None:
        """Keep ``buffer`` for reuse within the bounds (any thread; racing give-backs may pass the
        bound by a buffer each); a buffer not kept is unmapped when collected."""
        kept = len(self._free)
        if kept < self.min_free or (kept + 1) * len(buffer) <= self.max_free_bytes:
            self._free.append(buffer)


class Decoder:
    """Incremental decoder for one connection.

    Args:
        side: ``Side.SERVER`` decodes client messages (the first one is the hello, a
            :class:`~tcpbridge.protocol.messages.ClientType`); ``Side.CLIENT`` decodes server commands.
        limits: bounds checked before anything is allocated; :attr:`limits` may be changed between
            messages (the server gives connections that do not control the plugin smaller ones).
        old_layout: layout assumed for a pymodaq4 DWA without units: ``DwaLayout.V4_2`` (4.2-4.3,
            the default), or ``V4_1_3`` / ``V4_1_0`` for PyMoDAQ 4.1 peers (not detectable, docs/protocol.rst §6).
        budget: bytes of large fields being received at once, shared by connections; None: unbounded.
        dialect: ``Dialect.PYMODAQ5`` to decode that framing from the start (a client of a PyMoDAQ
            5.0/5.1-style server); a server's decoder switches to it by itself at such a hello.

    Use :meth:`feed` (bytes at hand) or :meth:`get_buffer` / :meth:`buffer_updated` (``recv_into``),
    then :meth:`pop_messages`.  Decoded arrays are writable views of the received bytes.
    """

    #: size of the reusable buffer for small fields
    BUFFER_SIZE = 256 * 1024
    #: a field larger than this is received into a buffer of its own, without an extra copy
    DIRECT_THRESHOLD = 64 * 1024

    def __init__(self, side: Side = Side.SERVER, limits: Limits = DEFAULT_LIMITS,
                 old_layout: DwaLayout = DwaLayout.V4_2, budget: Optional[ReceiveBudget] = None,
                 dialect: Optional[Dialect] = None) -> None:
        self.side = Side(side)
        self._old_layout = old_layout
        self._framing = framing(dialect)
        self._reader = self._framing.reader(limits, old_layout)
        self._budget = budget
        self._reserved = 0
        self._buf = bytearray(self.BUFFER_SIZE)
        self._start = 0
        self._end = 0
        self._big: Optional[np.ndarray] = None
        self._pool = BufferPool()
        self._big_fill = 0
        self._messages: Deque[Message] = deque()
        self._sizes: Deque[int] = deque()
        self._error: Optional[ProtocolError] = None
        self._hello_pending = self.side is Side.SERVER
        self._gen: Parse
        self._need = 0
        self._next_message()

    @property
    def limits(self) -> Limits:
        """The bounds applied to the next fields."""
        return self._reader.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self._reader.limits = limits

    @property
    def in_message(self) -> bool:
        """True while part of a message has been received (a peer that stops here is truncated)."""
        # the first field of a message is already counted in total when nothing of it has come
        return self._reader.total > self._need or self._end > self._start or self._big is not None

    @property
    def message_bytes(self) -> int:
        """Bytes announced so far for the message in progress (0 between messages)."""
        return self._reader.total if self.in_message else 0

    @property
    def field_missing(self) -> int:
        """Bytes still to come of the large field being received into its own buffer (an array's
        bytes), 0 when none is: a transport may wait until that many arrived before reading again."""
        return self._need - self._big_fill if self._big is not None else 0

    def _next_message(self) -> None:
        self._reader.reset()
        self._gen = self._reader.hello() if self._hello_pending else _NEXT_MESSAGE[self.side](self._reader)
        self._need = next(self._gen)

    def _deliver(self, chunk: Any) -> None:
        try:
            self._need = self._gen.send(chunk)
        except StopIteration as done:
            self._messages.append(done.value)
            self._sizes.append(self._reader.total)
            if self._hello_pending and isinstance(done.value, ClientType) and \
                    framing(done.value.dialect) is not self._framing:  # the hello's framing from now on
                self._framing = framing(done.value.dialect)
                self._reader = self._framing.reader(self._reader.limits, self._old_layout)
            self._hello_pending = False
            self._next_message()
        except ProtocolError as error:
            self._fail(error)
        except (ArithmeticError, ValueError, TypeError, IndexError, MemoryError) as error:
            # a validation the grammar lacks: still a bad message, never a crash of the caller
            self._fail(MalformedPayload(f'undecodable payload ({type(error).__name__}: {error}) '
                                        f'near {preview(bytes(chunk[:40]))}'))

    def _fail(self, error: ProtocolError) -> None:
        self._error = error
        self.close()
        raise error

    def get_buffer(self) -> memoryview:
        """Writable memory for the next received bytes (``sock.recv_into(decoder.get_buffer())``).

        Raises:
            ProtocolError: the decoder already failed, or a large field is over the shared budget.
        """
        if self._error is not None:
            raise self._error
        if self._big is not None:
            return self._big.data[self._big_fill:]
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
            self._release()
            self._deliver(big)
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
                self._reserve(self._need)
                self._big = self._pool.lease(self._need)
                self._big[:available] = np.frombuffer(self._buf, np.uint8, available, self._start)
                self._big_fill = available
                self._start = self._end = 0
            elif self._need > len(self._buf) - self._start:
                self._compact()
            return

    def _reserve(self, nbytes: int) -> None:
        if self._budget is not None:
            try:
                self._budget.reserve(nbytes)
            except ProtocolError as error:
                self._fail(error)
            self._reserved = nbytes

    def _release(self) -> None:
        if self._budget is not None and self._reserved:
            self._budget.release(self._reserved)
        self._reserved = 0

    def close(self) -> None:
        """Give back what this connection holds of the shared budget (call when it closes)."""
        self._release()
        self._big = None

    def _compact(self) -> None:
        available = self._end - self._start
        self._buf[:available] = self._buf[self._start:self._end]
        self._start, self._end = 0, available

    def feed(self, data: bytes) -> List[Message]:
        """Decode ``data`` (any chunk of the stream) and return the messages completed so far.

        Raises:
            ProtocolError: the bytes break the protocol; the connection must be closed.
        """
        self._write(data)
        return self.pop_messages()

    def feed_sized(self, data: bytes) -> List[Tuple[Message, int]]:
        """As :meth:`feed`, each message with its size on the wire (bytes)."""
        self._write(data)
        return self.pop_sized_messages()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view.nbytes:
            target = self.get_buffer()
            n = min(target.nbytes, view.nbytes)
            target[:n] = view[:n]
            view = view[n:]
            self.buffer_updated(n)

    def pop_messages(self) -> List[Message]:
        """The messages decoded since the last call, oldest first."""
        out = list(self._messages)
        self._messages.clear()
        self._sizes.clear()
        return out

    @property
    def pending(self) -> int:
        """Messages decoded and not popped yet."""
        return len(self._messages)

    def pop_sized_messages(self, limit: Optional[int] = None) -> List[Tuple[Message, int]]:
        """The messages decoded and not popped yet with their size on the wire (bytes), oldest first;
        at most ``limit`` of them (the others wait for the next call; None: all)."""
        if limit is None or limit >= len(self._messages):
            out = list(zip(self._messages, self._sizes))
            self._messages.clear()
            self._sizes.clear()
            return out
        return [(self._messages.popleft(), self._sizes.popleft()) for _ in range(max(0, limit))]
