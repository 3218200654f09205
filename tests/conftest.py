"""Test setup: headless Qt, PyMoDAQ's config folders redirected to a temporary folder (before any
pymodaq import), and helpers that wait on conditions with a timeout (never a blind sleep)."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import pytest

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))

from tcpbridge.pymodaq_home import redirect_pymodaq_config  # noqa: E402

PYMODAQ_HOME = redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-tests-pymodaq-')))
# registered before PyMoDAQ's own atexit config saves, so it runs after them
atexit.register(shutil.rmtree, PYMODAQ_HOME, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'interop: against real PyMoDAQ 3.6/4.4 peers in their own venvs')


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
