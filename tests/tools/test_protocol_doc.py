"""docs/protocol.rst: its hex examples are what the encoder writes, they decode to the messages they
show, and every example is in the document."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tcpbridge.wire import ClientType, Decoder, Side

DOCS = Path(__file__).parents[2] / 'docs'
spec = importlib.util.spec_from_file_location('protocol_examples', DOCS / 'protocol_examples.py')
examples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(examples)
TEXT = (DOCS / 'protocol.rst').read_text(encoding='utf-8')


def test_the_examples_are_current() -> None:
    assert examples.update(TEXT) == TEXT, 'run: python docs/protocol_examples.py'


def test_every_example_is_shown_once() -> None:
    assert sorted(examples.names_in(TEXT)) == sorted(examples.EXAMPLES)


@pytest.mark.parametrize('name', sorted(examples.EXAMPLES))
def test_the_shown_bytes_decode_to_the_message(name: str) -> None:
    direction, dialect, message = examples.EXAMPLES[name]
    block = re.search(rf'\.\. example: {name}\n(.*?)\.\. end of example', TEXT, re.DOTALL).group(1)
    shown = bytes.fromhex(' '.join(line.split('#')[0].strip()[2:] for line in block.splitlines()
                                   if line.strip().startswith(('>', '<'))))
    assert shown == examples.example_bytes(name)
    decoder = Decoder(Side.SERVER if direction == '>' else Side.CLIENT)
    if direction == '>' and not isinstance(message, ClientType):
        decoder.feed(b'\x00\x00\x00\x07GRABBER')  # a client's messages follow its hello
    assert decoder.feed(shown) == [message]
