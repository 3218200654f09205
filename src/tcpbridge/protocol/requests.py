"""Requests awaiting their reply on one connection: the pairing rule of docs/protocol.rst §8 and the
reply deadlines, for :class:`~tcpbridge.protocol.server_session.ServerSession`.

The protocol has no request ids: a reply settles the oldest request that awaits its message class
and was sent before the reply was received.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Deque, List, Optional, Tuple, Type

from .messages import Message

#: the reply classes a request awaits, e.g. ``(MoveDone,)``
Expected = Tuple[Type[Message], ...]


def expected_commands(expected: Expected) -> str:
    """``'move_done'`` / ``'Done / position_is'``: the command strings of ``expected``, for messages."""
    return ' / '.join(cls.command for cls in expected)


@dataclass
class Request:
    """A command sent at ``sent_at`` (``time.monotonic()``) that awaits one of ``expected`` within
    ``timeout`` s: by ``deadline`` (later by the time reading was paused, see :meth:`PendingRequests.shift`).

    ``closes_on_timeout``: its reply *completes* something (a move, a data set), so a reply that comes
    after the deadline could be taken for the reply to a later request: the connection is closed at
    the deadline.  False for the dialect probe (``check_position``), whose reply is a position report,
    true whenever it comes.
    """

    id: int
    command: str
    expected: Expected
    deadline: float
    sent_at: float
    timeout: float
    closes_on_timeout: bool = True

    def settled_by(self, message: Message, received_at: float) -> bool:
        """True if ``message``, received at ``received_at``, is this request's reply: a reply received
        before the request went out cannot answer it (it was pushed, or answers an earlier one)."""
        return isinstance(message, self.expected) and received_at >= self.sent_at


class PendingRequests:
    """The requests of one connection that await a reply, oldest first."""

    def __init__(self) -> None:
        self._requests: Deque[Request] = deque()

    def __len__(self) -> int:
        return len(self._requests)

    def add(self, request: Request) -> None:
        """Await ``request``'s reply."""
        self._requests.append(request)

    def settle(self, message: Message, received_at: float) -> Optional[Request]:
        """The oldest request ``message`` answers (now settled, no longer awaited), or None."""
        settled = next((r for r in self._requests if r.settled_by(message, received_at)), None)
        if settled is not None:
            self._requests.remove(settled)
        return settled

    def expire(self, now: float) -> List[Request]:
        """The requests whose deadline passed at ``now``, oldest first (no longer awaited)."""
        late = [r for r in self._requests if now >= r.deadline]
        for request in late:
            self._requests.remove(request)
        return late

    def next_deadline(self) -> Optional[float]:
        """The earliest reply deadline, or None if nothing is awaited."""
        return min((r.deadline for r in self._requests), default=None)

    def shift(self, seconds: float) -> None:
        """Push every deadline ``seconds`` later (reading was paused that long: the wait was ours)."""
        for request in self._requests:
            request.deadline += seconds
