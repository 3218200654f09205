"""Engine events into the plugin's thread, in order, with one Qt wake-up per batch.

The server engine (:class:`tcpbridge.BridgeServer`) reports its events in its own thread; the
plugin handles them in its own (PyMoDAQ's hardware thread).  A queued Qt signal per event, carrying
the event, costs two hand-overs of Python's GIL in PyQt's ``emit`` (released around the Qt call,
taken again to copy the Python argument into the queued call) and a wake-up of the plugin's thread
each.  With many instruments in one process these hand-overs, not the work, set the pace (measured
with benchmarks/bench_scale.py).  Here events wait in a queue and a signal without arguments is
sent only when the queue was idle: a plugin thread that is busy finds several events at its next
turn and handles them in one go.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Deque

from qtpy.QtCore import QObject, Signal

from tcpbridge.server import Event

#: events handled per turn of the plugin thread's event loop at most: the rest at its next turn, so
#: that a flood of events never holds off its other work (a stop, a timer, a settings change)
MAX_EVENTS_PER_TURN = 64


class EventRelay(QObject):
    """Carries engine events into the thread this object was created in and hands them, oldest first,
    to ``handler`` there.

    :meth:`post` may be called from any thread; ``handler`` runs in the relay's thread only, and must
    not raise (an exception is logged by Qt and the remaining events wait for the next post).
    """

    _ready = Signal()

    def __init__(self, handler: Callable[[Event], None]) -> None:
        super().__init__()
        self._handler = handler
        self._events: Deque[Event] = deque()
        self._lock = threading.Lock()
        self._scheduled = False  # a _ready is on its way to the relay's thread
        self._closed = False
        self._ready.connect(self._handle_batch)

    def post(self, event: Event) -> None:
        """Queue ``event`` (any thread); the relay's thread is woken unless a wake-up is on its way."""
        with self._lock:
            if self._closed:
                return
            self._events.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        self._ready.emit()

    def _handle_batch(self) -> None:
        """The events queued now (up to :data:`MAX_EVENTS_PER_TURN`), in order; a next turn for the rest."""
        for _ in range(MAX_EVENTS_PER_TURN):
            with self._lock:
                if self._closed or not self._events:
                    self._scheduled = False
                    return
                event = self._events.popleft()
            self._handler(event)
        with self._lock:
            if not self._events:
                self._scheduled = False
                return
        self._ready.emit()  # queued behind whatever else waits in this thread

    def close(self) -> None:
        """Drop the events not handled yet and hand none over from now on (any thread; idempotent)."""
        with self._lock:
            self._closed = True
            self._events.clear()
