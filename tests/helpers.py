"""Test helpers: an event log for the server engine and demo client processes."""
from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from typing import Callable, Iterator, List

from tcpbridge import ClientProcess, Event


class EventLog:
    """Collects engine events (called in the engine thread) and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: List[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10.0, after: int = 0) -> Event:
        """The first event (from index ``after``) matching ``predicate``; fail after ``timeout`` s."""
        with self._changed:
            found: List[Event] = []

            def match() -> bool:
                found[:] = [e for e in self.events[after:] if predicate(e)]
                return bool(found)

            if not self._changed.wait_for(match, timeout):
                raise AssertionError(f'no matching event within {timeout} s; got '
                                     f'{[type(e).__name__ for e in self.events[after:]]}')
            return found[0]

    def keep_last(self, count: int) -> None:
        """Forget all but the last ``count`` events (long runs keep their memory flat)."""
        with self._changed:
            del self.events[:-count]

    def of_type(self, kind: type) -> List[Event]:
        with self._changed:
            return [e for e in self.events if isinstance(e, kind)]


@contextlib.contextmanager
def client_process(*args: str) -> Iterator[subprocess.Popen]:
    """A ``tcpbridge`` demo client in its own process; SIGTERM at the end, it must exit 0 by itself."""
    client = ClientProcess(args)
    try:
        yield client.process
    finally:
        code = client.stop()
        assert code == 0, f'tcpbridge {" ".join(args)} exited with {code}: {client.process.stderr}'


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = 'condition',
               qt: bool = False) -> None:
    """Wait until ``condition()`` is true (processing Qt events if ``qt``), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        if qt:
            from qtpy.QtWidgets import QApplication
            QApplication.processEvents()
        time.sleep(0.002)
