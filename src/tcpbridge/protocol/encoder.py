"""Encoder: messages to bytes, in the dialect of one connection (docs/protocol.rst §1-2).

The result is a list of buffers (``bytes`` or ``memoryview``): small fields are coalesced into one
``bytes``; an array larger than :data:`~tcpbridge.protocol.grammar.ZERO_COPY_BYTES` stays a view
of the numpy memory so that the transport can send it without copying.  ``b''.join(chunks)``
gives the message bytes.
"""
from __future__ import annotations

from typing import List, Union

from .dialects import Dialect, DwaLayout
from .framings import framing
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
        self._framing = framing(self.dialect)

    def encode(self, message: Message) -> List[Buffer]:
        """Buffers of one message; ``b''.join`` them for the bytes.

        Raises:
            EncodeError: a value that the dialect cannot carry, or a length over 2**32-1.
        """
        w = Writer()
        self._framing.write_message(w, message, self.dialect, self.layout)
        return w.finish()

    def encode_bytes(self, message: Message) -> bytes:
        """The whole message as one ``bytes`` (copies; for tests and small messages)."""
        return b''.join(self.encode(message))
