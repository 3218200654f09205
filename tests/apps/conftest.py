"""Fixtures of the command tests."""
from __future__ import annotations

from typing import Iterator

import pytest

from helpers import free_port
from leco_helpers import start_coordinator


@pytest.fixture
def coordinator() -> Iterator[int]:
    """A pyleco Coordinator process on a free port of this PC; its port."""
    port = free_port()
    process = start_coordinator(port)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)
