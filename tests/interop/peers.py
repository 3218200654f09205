"""Real PyMoDAQ 3.6.13 / 4.3.7 / 4.4.11 / 5.0.18 / 5.1.13 peers, each in its own virtual environment, as
subprocesses.

The environments are created on first use under ``$TCPBRIDGE_INTEROP_VENVS`` (default: a folder in
the temporary directory) and reused while their requirements match.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import venv
from pathlib import Path
from typing import Callable, Dict, List, Optional

from filelock import FileLock

HERE = Path(__file__).parent
VENVS = Path(os.environ.get('TCPBRIDGE_INTEROP_VENVS', Path(tempfile.gettempdir()) / 'tcpbridge-interop-venvs'))
REQUIREMENTS: Dict[str, List[str]] = {
    '5.1': ['pymodaq==5.1.13', 'pymodaq_plugins_mock==5.0.13', 'PyQt5==5.15.11'],
    '5.0': ['pymodaq==5.0.18', 'pymodaq_data==5.0.27', 'pymodaq_plugins_mock==5.0.13', 'pyqtgraph==0.13.7',
            'PyQt5==5.15.11'],
    '4.4': ['pymodaq==4.4.11', 'pymodaq_plugins_mock==4.4.5', 'PyQt5==5.15.11'],
    '4.3': ['pymodaq==4.3.7', 'pymodaq_plugins_mock==4.3.6', 'PyQt5==5.15.11'],
    '3.6': ['pymodaq==3.6.13', 'numpy==1.23.5', 'pyqtgraph==0.12.4', 'PyQt5==5.15.11'],
}


def peer_python(version: str) -> Path:
    """The python of the virtual environment holding PyMoDAQ ``version`` (created if needed).

    Safe for test runs sharing the cache: a file lock per version, and a new environment is built
    in a folder of its own then renamed into place (a run never sees a half-built one).
    """
    folder = VENVS / f'pymodaq-{version}'
    wanted = '\n'.join(REQUIREMENTS[version])

    def ready(root: Path) -> bool:
        marker = root / 'requirements.txt'
        return marker.is_file() and marker.read_text() == wanted and _python(root).exists()

    if ready(folder):
        return _python(folder)
    VENVS.mkdir(parents=True, exist_ok=True)
    with FileLock(str(VENVS / f'pymodaq-{version}.lock'), timeout=1800):
        if ready(folder):  # built by another run while this one waited
            return _python(folder)
        building = Path(tempfile.mkdtemp(prefix=f'.building-{version}-', dir=VENVS))
        try:
            venv.create(building, with_pip=True)
            subprocess.run([str(_python(building)), '-m', 'pip', 'install', '--quiet',
                            '--disable-pip-version-check', *REQUIREMENTS[version]], check=True, timeout=1500)
            (building / 'requirements.txt').write_text(wanted)
            if folder.exists():
                shutil.rmtree(folder)
            building.rename(folder)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return _python(folder)


def _python(root: Path) -> Path:
    return root / ('Scripts/python.exe' if sys.platform == 'win32' else 'bin/python')


class Peer:
    """A peer script in a PyMoDAQ venv; its JSON stdout lines are collected by a reader thread."""

    def __init__(self, version: str, script: str, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(('QT_', 'PYTHON'))}
        self.home = tempfile.mkdtemp(prefix=f'tcpbridge-peer-{version}-')  # its own PyMoDAQ config
        env.update(QT_QPA_PLATFORM='offscreen', QT_API='pyqt5', HOME=self.home, USERPROFILE=self.home)
        self.process = subprocess.Popen([str(peer_python(version)), str(HERE / script), *args], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.events: List[dict] = []
        self._lines: queue.Queue[Optional[dict]] = queue.Queue()
        self._stderr: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._stderr.extend(self.process.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith('{'):
                self._lines.put(json.loads(line))
        self._lines.put(None)

    def wait_event(self, predicate: Callable[[dict], bool], timeout: float = 60.0) -> dict:
        """The first event (seen or to come) matching ``predicate``; AssertionError after ``timeout`` s."""
        for event in self.events:
            if predicate(event):
                return event
        while True:
            try:
                event = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f'no matching event from the peer within {timeout} s; '
                                     f'events {self.events}; stderr {"".join(self._stderr)[-2000:]}') from None
            if event is None:
                raise AssertionError(f'the peer ended; events {self.events}; stderr {"".join(self._stderr)[-3000:]}')
            self.events.append(event)
            if predicate(event):
                return event

    def tell(self, line: str) -> None:
        """Send one line to the peer's stdin (peers that take commands)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + '\n')
        self.process.stdin.flush()

    def stop(self) -> None:
        """Kill it: PyMoDAQ 3.x/4.x clients spin forever on a closed connection (docs/protocol.rst §4.1)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)

