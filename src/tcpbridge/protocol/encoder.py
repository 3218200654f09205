"""Encoder: messages to bytes, in the dialect of one connection (docs/protocol.rst §1-2).

The result is a list of buffers (``bytes`` or ``memoryview``): small fields are coalesced into one
``bytes``; an array larger than :data:`~tcpbridge.protocol.grammar.ZERO_COPY_BYTES` stays a view
of the numpy memory so that the transport can send it without copying.  ``b''.join(chunks)``
gives the message bytes.
"""
from __future__ import annotations

from typing import List, Union

from . import pymodaq5
from .dialects import Dialect, DwaLayout
from .framing import write_message
from .grammar import Buffer, Writer
from .messages import Message


class Encoder:
    """Encodes messages for one connection.

    Args:
        dialect: a :class:`Dialect` or its name; decides position and data payloads (and, for
            ``pymodaq5``, the framing of every message).
        layout: the pymodaq4 DWA layout to write (default 4.4, docs/protocol.rst §1.9).

    Raises:
        ValueError: an unknown dialect name.
    """

    def __init__(self, dialect: Union[Dialect, str] = Dialect.LEGACY,
                 layout: DwaLayout = DwaLayout.V4_4) -> None:
        self.dialect = Dialect.parse(dialect)
        self.layout = layout

    def encode(self, message: Message) -> List[Buffer]:
        """Buffers of one message; ``b''.join`` them for the bytes.

        Raises:
            EncodeError: a value that the dialect cannot carry, or a length over 2**32-1.
        """
        w = Writer()
        if self.dialect is Dialect.PYMODAQ5:
            pymodaq5.write_message(w, message)
        else:
            write_message(w, message, self.dialect, self.layout)
        return w.finish()

    def encode_bytes(self, message: Message) -> bytes:
        """The whole message as one ``bytes`` (copies; for tests and small messages)."""
        return b''.join(self.encode(message))
