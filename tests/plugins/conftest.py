"""The fixture shared by the plugin tests: plugins made by a test are closed after it."""
from __future__ import annotations

from typing import Iterator, List

import pytest


@pytest.fixture
def plugins() -> Iterator[List]:
    """A list the test appends its plugins to; each is closed (sockets, engine thread) at the end."""
    made: List = []
    yield made
    for plugin in made:
        plugin.close()
