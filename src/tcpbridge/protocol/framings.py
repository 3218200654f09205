"""The two framings of the protocol behind one interface, chosen at the hello.

* *classic* (docs/protocol.rst §2): a command STR, then its payload; positions and data in the
  connection's dialect (legacy or pymodaq4, :mod:`tcpbridge.protocol.codecs`);
* *pymodaq5* (docs/protocol.rst §7): every object an envelope of tagged objects, PyMoDAQ 5.0/5.1's
  serializer (:mod:`tcpbridge.protocol.pymodaq5`).

A server reads every hello with the classic reader, which recognises a pymodaq5 hello by its first
bytes; the :class:`~tcpbridge.protocol.messages.ClientType` it returns names the dialect, whose
:func:`framing` reads and writes the rest of the connection.  Each framing dispatches on message
classes through its own tables (``PAYLOAD_READERS`` / ``PAYLOAD_WRITERS`` or ``ARGUMENTS``): adding a
message is one line per framing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Protocol

from . import framing as classic
from . import pymodaq5
from .dialects import Dialect, DwaLayout
from .grammar import Parse, Writer
from .limits import Limits
from .messages import Message


class MessageParser(Protocol):
    """What a framing's reader offers the decoder (generators over exact byte counts, as
    :class:`~tcpbridge.protocol.grammar.Reader`)."""

    limits: Limits
    total: int

    def reset(self) -> None: ...

    def hello(self) -> Parse: ...

    def client_message(self) -> Parse: ...

    def server_message(self) -> Parse: ...

    def observed_message(self) -> Parse: ...


@dataclass(frozen=True)
class Framing:
    """One framing: ``reader(limits, old_layout)`` makes the parser of a connection,
    ``write_message(writer, message, dialect, layout)`` writes one message.

    Raises (``write_message``):
        EncodeError: a value the framing or dialect cannot carry.
    """

    name: str
    reader: Callable[[Limits, DwaLayout], MessageParser]
    write_message: Callable[[Writer, Message, Dialect, DwaLayout], None]


CLASSIC = Framing('classic', classic.MessageReader, classic.write_message)
PYMODAQ5 = Framing('pymodaq5', pymodaq5.Pymodaq5Reader, pymodaq5.write_message)
#: the dialects with a framing of their own; every other one is classic
_OWN_FRAMING: Dict[Dialect, Framing] = {Dialect.PYMODAQ5: PYMODAQ5}


def framing(dialect: Optional[Dialect]) -> Framing:
    """The framing ``dialect`` is written in (None: not known yet, the classic one, in which every
    hello can be read)."""
    return _OWN_FRAMING.get(dialect, CLASSIC) if dialect is not None else CLASSIC
