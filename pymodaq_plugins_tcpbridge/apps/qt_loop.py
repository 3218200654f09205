"""The Qt event loop of the ``tcpbridge`` commands that run PyMoDAQ (``scan``, ``module``): waits that
keep Qt's events flowing, and Ctrl+C / SIGTERM handled as a clean stop."""
from __future__ import annotations

import signal
import threading
import time
from typing import Callable, Optional

from qtpy.QtCore import QEventLoop, QTimer
from qtpy.QtWidgets import QApplication

#: set by SIGINT / SIGTERM: every wait ends and the command stops cleanly
INTERRUPTED = threading.Event()
#: exit code of an interrupted command (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130


def _interrupt(signum: int, frame: object) -> None:
    """Signal handler: Python code runs only in the timers' slots while Qt's loop runs, and an
    exception raised there would abort the process without closing the hardware."""
    INTERRUPTED.set()
    QApplication.quit()


def handle_interrupts() -> QTimer:
    """SIGINT and SIGTERM set :data:`INTERRUPTED` and quit Qt's loop.  Returns the heartbeat timer
    that lets Python's signal handlers run while Qt waits (keep a reference to it)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    return heartbeat


def run_until(condition: Callable[[], object], end: float, every: Optional[Callable[[], None]] = None) -> bool:
    """Run the Qt event loop until ``condition()``, the monotonic time ``end`` or an interrupt;
    ``condition`` (and ``every``) are checked every 5 ms.  Events are handled as they come, not
    between sleeps.  Returns whether ``condition()`` is true (any truthy value counts)."""
    if condition():
        return True
    loop, timer = QEventLoop(), QTimer()

    def check() -> None:
        if every is not None:
            every()
        if condition() or time.monotonic() > end or INTERRUPTED.is_set():
            loop.quit()
    timer.timeout.connect(check)
    timer.start(5)
    loop.exec()
    timer.stop()
    return bool(condition())


def process_events_for(seconds: float) -> None:
    """Run the Qt event loop for ``seconds``, interrupted or not (e.g. to let a stop reach a thread)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
