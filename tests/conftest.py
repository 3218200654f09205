"""Test setup: headless Qt, and PyMoDAQ's config folders redirected to a temporary folder before any
pymodaq import.  This file must run once only: helpers for the tests are in ``helpers.py``."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator, List

import pytest

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))

from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

PYMODAQ_HOME = redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-tests-pymodaq-')))
# registered before PyMoDAQ's own atexit config saves, so it runs after them
atexit.register(shutil.rmtree, PYMODAQ_HOME, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'interop: against real PyMoDAQ 3.6/4.4 peers in their own venvs')


@pytest.fixture
def plugins() -> Iterator[List]:
    """A list the test appends its PyMoDAQ plugins to; each is closed (sockets, engine thread) at the end."""
    made: List = []
    yield made
    for plugin in made:
        plugin.close()
