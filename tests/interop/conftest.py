"""The fixture of the interop tests: peers in their PyMoDAQ venvs, killed at the end of each test."""
from __future__ import annotations

from typing import Callable, Iterator, List

import pytest

from interop.peers import Peer


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    """Starts peers (``peers(version, script, *args)``); kills them at the end of the test."""
    started: List[Peer] = []

    def start(*args: str) -> Peer:
        peer = Peer(*args)
        started.append(peer)
        return peer
    yield start
    for peer in started:
        peer.stop()
