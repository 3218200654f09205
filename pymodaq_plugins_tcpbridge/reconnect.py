"""The reconnect wait: a request outstanding when its client was lost is kept, and sent again to the
next client in control (docs/guide/resilience.rst).

A move is replayed as ``move_abs`` to its absolute target (a ``move_rel`` is never sent twice), a grab
as a new data request.  The wait ends when a client is back (the request is sent again), or after
*Reconnect wait* seconds (the plugin reports the failure: no ``move_done`` at a position that was not
reached, no data invented), or when the user cancels it (stop, close, another move).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from qtpy.QtCore import QTimer


@dataclass
class Waiting:
    """A request whose client was lost: ``what`` it was (``'move_abs 3.25 mm'``), the ``replay`` that
    sends it again, and when (``lost_at``, time.monotonic(); ``lost_clock``, ``HH:MM:SS``) and how long
    (``seconds``) the plugin waits for a client."""

    what: str
    replay: Callable[[], None]
    seconds: float
    lost_at: float
    lost_clock: str


class ReconnectWait:
    """At most one request waiting for a client, and the timer that ends the wait.

    Lives in the plugin's thread (its QTimer is created there, at the first wait).

    Args:
        expired: called with the :class:`Waiting` when no client came back in time.
    """

    def __init__(self, expired: Callable[[Waiting], None]) -> None:
        self._expired = expired
        self._timer: Optional[QTimer] = None
        self.waiting: Optional[Waiting] = None

    def start(self, what: str, replay: Callable[[], None], seconds: float) -> Waiting:
        """Keep ``what`` for ``seconds`` (> 0); replaces a request already waiting."""
        if self._timer is None:
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._on_timeout)
        self.waiting = Waiting(what, replay, seconds, time.monotonic(), time.strftime('%H:%M:%S'))
        self._timer.start(int(seconds * 1000))
        return self.waiting

    def resume(self) -> Optional[Waiting]:
        """A client is back: send the waiting request again; returns it (None if nothing waited)."""
        waiting = self.cancel()
        if waiting is not None:
            waiting.replay()
        return waiting

    def cancel(self) -> Optional[Waiting]:
        """Stop waiting; returns what waited (None if nothing)."""
        waiting, self.waiting = self.waiting, None
        if self._timer is not None:
            self._timer.stop()
        return waiting

    def _on_timeout(self) -> None:
        waiting = self.cancel()
        if waiting is not None:
            self._expired(waiting)
