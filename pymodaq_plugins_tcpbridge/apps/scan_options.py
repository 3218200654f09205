"""What ``tcpbridge scan`` was asked for, its error, its time bound and its output line.

No PyMoDAQ import (qtpy only): the command builds :class:`ScanOptions` before PyMoDAQ's config
folders are redirected.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

from .qt_loop import INTERRUPTED, run_until


class ScanError(RuntimeError):
    """The scan could not run, or its file does not hold what the clients sent."""


@dataclass
class ScanOptions:
    """What ``tcpbridge scan`` was asked for (see ``tcpbridge scan --help``)."""

    points: int = 11
    start: float = 0.0
    stop: float = 10.0
    scan: str = '1D'
    dim: str = '0D'
    dialect: str = 'legacy'
    host: str = '127.0.0.1'
    actuator_ports: List[int] = field(default_factory=list)
    detector_port: Optional[int] = None
    out: Path = Path('tcpbridge-scan')
    plot: Optional[Path] = None
    gui: bool = False
    timeout: float = 300.0
    speed: float = 0.0
    peak_at: float = 5.0
    peak_width: float = 1.5
    noise: float = 0.01
    reconnect_wait: float = 60.0

    instruments: str = 'demo'

    @property
    def demo(self) -> bool:
        """True when the instruments are started here (no port given): demo clients, or PyMoDAQ's
        Mock plugins hosted by ``tcpbridge module``."""
        return not self.actuator_ports and self.detector_port is None

    @property
    def demo_signal(self) -> bool:
        """True when the detector is our demo one, whose signal peaks at ``peak_at``."""
        return self.demo and self.instruments == 'demo'


class Deadline:
    """The global time bound of the command: every wait checks it."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def wait(self, condition: Callable[[], object], what: str, limit: Optional[float] = None,
             every: Optional[Callable[[], None]] = None) -> None:
        """Run the Qt event loop until ``condition()`` (``every`` called while waiting); ScanError
        after ``limit`` s, the deadline or an interrupt."""
        end = min(self.end, time.monotonic() + limit) if limit else self.end
        if run_until(condition, end, every):
            return
        if INTERRUPTED.is_set():
            raise ScanError(f'interrupted while waiting for {what}')
        raise ScanError(f'timed out waiting for {what}')

def say(text: str) -> None:
    print(text, flush=True)
