"""Back-pressure from the consumer of the data to the socket: the server engine stops reading the
client in control while too much of what it delivered is still held downstream.

A streaming instrument can push faster than its consumer takes the data (PyMoDAQ's DAQ_Viewer
handles every data set in its GUI thread).  Without a bound, the difference piles up in queues and
memory grows with the backlog.  With one, the engine leaves the bytes in the socket: TCP's own
flow control then slows the sender (its ``send`` blocks), and nothing is dropped.

One receive can complete many small messages (256 KiB of 0D data sets is thousands of them): the
engine hands over no more than :meth:`DeliveryBacklog.room` of them, the others wait decoded (as
bytes would wait in the socket) until there is room again.

The consumer says when a message's data are no longer held (``release``; the viewer plugins tie it
to the life of the DataToExport they emit, so the bound covers every queue down to PyMoDAQ's GUI
thread).  A hold released by nobody ends by itself after ``max_hold_s``, so a consumer that keeps
data forever slows the stream instead of stopping it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from ..protocol.connection_state import ConnectionState


@dataclass(frozen=True)
class BacklogLimits:
    """When the engine stops reading: more than ``max_bytes`` or ``max_messages`` delivered and not
    released; it reads again once both are back to half.  ``max_hold_s``: seconds after which a hold
    counts as released anyway.

    Raises:
        ValueError: a bound below 1 (bytes, messages) or not > 0 (seconds).
    """

    max_bytes: int = 64 << 20
    max_messages: int = 100
    max_hold_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_messages < 1:
            raise ValueError(f'backlog bounds must be >= 1, got {self.max_bytes} bytes, {self.max_messages} messages')
        if self.max_hold_s <= 0:
            raise ValueError(f'max_hold_s must be > 0, got {self.max_hold_s}')


class DeliveryBacklog:
    """Messages delivered to the consumer and not released yet (thread-safe).

    Args:
        limits: the bounds.
        on_resume: called (from the thread that releases) when the backlog falls back to half the
            bounds after being over them: the engine's waker.
    """

    def __init__(self, limits: BacklogLimits, on_resume: Callable[[], None]) -> None:
        self.limits = limits
        self._on_resume = on_resume
        self._lock = threading.Lock()
        self._held: Dict[int, Tuple[float, int]] = {}  # hold id -> (since, bytes), oldest first
        self._next_id = 0
        self._bytes = 0
        self._over = False
        self._resumed_at: Optional[float] = None  # time.monotonic() of the last end of a pause

    @property
    def over(self) -> bool:
        """True from the moment a bound is exceeded until the backlog is back to half of both."""
        with self._lock:
            return self._over

    def paused_within(self, seconds: float) -> bool:
        """True while :attr:`over`, or if it ended less than ``seconds`` ago."""
        with self._lock:
            return self._over or self._resumed_at is not None and time.monotonic() - self._resumed_at < seconds

    @property
    def held(self) -> Tuple[int, int]:
        """(messages, bytes) delivered and not released."""
        with self._lock:
            return len(self._held), self._bytes

    def room(self) -> int:
        """How many more messages may be delivered before reading stops: 0 while :attr:`over`."""
        with self._lock:
            return 0 if self._over else self.limits.max_messages + 1 - len(self._held)

    def room_for(self, state: Optional[ConnectionState]) -> Optional[int]:
        """How many messages of a connection in ``state`` may be handed over now (None: no bound): the
        backlog bounds the client in control, and a client before its hello (which may put it in
        control), though never to none, as it is not paused."""
        if state is ConnectionState.IN_CONTROL:
            return self.room()
        return max(1, self.room()) if state is not None and not state.said_hello else None

    def hold(self, nbytes: int, now: float) -> Callable[[], None]:
        """Count a message of ``nbytes`` just delivered; returns its release (idempotent, any thread)."""
        with self._lock:
            hold_id, self._next_id = self._next_id, self._next_id + 1
            self._held[hold_id] = (now, nbytes)
            self._bytes += nbytes
            if len(self._held) > self.limits.max_messages or self._bytes > self.limits.max_bytes:
                self._over = True
        return lambda: self._release(hold_id)

    def expire(self, now: float) -> Optional[float]:
        """Release the holds older than ``max_hold_s``; returns when the oldest left expires (None:
        nothing held)."""
        while True:
            with self._lock:
                if not self._held:
                    return None
                hold_id, (since, _) = next(iter(self._held.items()))
                if now < since + self.limits.max_hold_s:
                    return since + self.limits.max_hold_s
            self._release(hold_id)

    def _release(self, hold_id: int) -> None:
        with self._lock:
            entry = self._held.pop(hold_id, None)
            if entry is None:
                return
            self._bytes -= entry[1]
            resume = self._over and len(self._held) <= self.limits.max_messages // 2 \
                and self._bytes <= self.limits.max_bytes // 2
            if resume:
                self._over = False
                self._resumed_at = time.monotonic()
        if resume:
            self._on_resume()
