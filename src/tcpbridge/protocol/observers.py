"""Observers (a tcpbridge extension, docs/protocol.rst §9.2): connections that receive a copy of
what the client in control sends (data and positions) and command nothing.  The fan-out policy of
:class:`~tcpbridge.protocol.server_session.ServerSession`.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .buffers import OutQueue
from .dialects import Dialect
from .encoder import Encoder
from .messages import Done, Message, MoveDone, PositionIs


class ObserverFanOut:
    """Admission and fan-out for at most ``max_observers`` observers, each with at most
    ``queue_bytes`` waiting to be sent (a slower one is dropped, never waited for)."""

    #: what observers get a copy of
    SHARED = (Done, PositionIs, MoveDone)

    def __init__(self, max_observers: int, queue_bytes: int) -> None:
        self.max_observers = max_observers
        self.queue_bytes = queue_bytes

    def refusal(self, observing: int) -> Optional[str]:
        """Why a new observer is refused while ``observing`` are connected, or None."""
        if observing < self.max_observers:
            return None
        return f'no room for an observer: {observing} of {self.max_observers} allowed (the max_observers setting)'

    def share(self, message: Message, queues: Dict[int, OutQueue]) -> List[Tuple[int, str]]:
        """Queue a copy of ``message`` for each observer (``queues``: connection id -> its queue),
        encoded once in the pymodaq4 dialect (names, axes, units).  Returns (id, reason) of the
        observers to drop: too slow.  Messages other than :attr:`SHARED` are not shared."""
        if not queues or not isinstance(message, self.SHARED):
            return []
        buffers = Encoder(Dialect.PYMODAQ4).encode(message)
        dropped: List[Tuple[int, str]] = []
        for cid, queue in queues.items():
            queue.push(buffers)
            if queue.nbytes > self.queue_bytes:
                dropped.append((cid, f'observer too slow: {queue.nbytes} bytes waiting, over the '
                                     f'{self.queue_bytes} allowed; dropped'))
        return dropped
