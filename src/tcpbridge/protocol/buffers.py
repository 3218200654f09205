"""Outgoing bytes of one connection: a queue of buffers sent without joining them (docs/protocol.rst §1:
a frame's header and its array memory go out by one ``sendmsg``, the array never copied)."""
from __future__ import annotations

from collections import deque
from typing import Deque, Iterable, List

from .grammar import Buffer

#: ``sendmsg`` takes at most this many buffers at once (IOV_MAX is 1024 on Linux)
MAX_IOV = 512


class OutQueue:
    """Buffers waiting to be sent, oldest first, with their total size.

    Sans-I/O: the I/O loop asks :meth:`views`, sends what it can, and reports it with :meth:`consume`.
    """

    __slots__ = ('_views', 'nbytes')

    def __init__(self) -> None:
        self._views: Deque[memoryview] = deque()
        self.nbytes = 0

    def __bool__(self) -> bool:
        return bool(self._views)

    def push(self, buffers: Iterable[Buffer]) -> None:
        """Queue ``buffers`` (empty ones are skipped); they must not change until sent."""
        for buffer in buffers:
            view = memoryview(buffer).cast('B')
            if view.nbytes:
                self._views.append(view)
                self.nbytes += view.nbytes

    def views(self, limit: int = MAX_IOV) -> List[memoryview]:
        """The first ``limit`` buffers, for one ``sendmsg``."""
        return [self._views[i] for i in range(min(limit, len(self._views)))]

    def consume(self, sent: int) -> None:
        """``sent`` bytes from the head of the queue went out."""
        self.nbytes -= sent
        while sent:
            head = self._views[0]
            if sent >= head.nbytes:
                sent -= head.nbytes
                self._views.popleft()
            else:
                self._views[0] = head[sent:]
                sent = 0

    def clear(self) -> None:
        """Forget everything queued (the connection is gone)."""
        self._views.clear()
        self.nbytes = 0
