"""The interface of a payload codec: how one dialect writes and reads the two payloads that differ
between dialects — a position (``move_abs``, ``move_rel``, ``position_is``, ``move_done``) and
detector data (``Done``).  Everything else (commands, strings, settings XML) is common to the
classic framing (docs/protocol.rst §2) and lives in :mod:`tcpbridge.protocol.framing`.
"""
from __future__ import annotations

import abc
from typing import Optional

from ..dialects import Dialect, DwaLayout
from ..grammar import Parse, Reader, Writer
from ..messages import Payload, Position


class PayloadCodec(abc.ABC):
    """One dialect's position and data payloads.

    A reader that has read the first U32 of a payload (and, for data, the next 4 bytes when that
    U32 is 12, the length of ``'DataToExport'``) asks each codec of the registry whether it
    *claims* the payload (docs/protocol.rst §6); exactly one must.
    """

    dialect: Dialect

    @abc.abstractmethod
    def write_position(self, w: Writer, position: Position, layout: DwaLayout) -> None:
        """Write a position (a number, a 0-d array keeping its dtype, or a DataActuator).

        Raises:
            EncodeError: a value the dialect cannot carry.
        """

    @abc.abstractmethod
    def write_data(self, w: Writer, data: Payload, layout: DwaLayout) -> None:
        """Write a ``Done`` payload (a list of arrays, or a DataToExport).

        Raises:
            EncodeError: a value the dialect cannot carry.
        """

    @abc.abstractmethod
    def claims_position(self, first: int) -> bool:
        """True if a position payload starting with the U32 ``first`` is in this dialect."""

    @abc.abstractmethod
    def claims_data(self, first: int, head: Optional[bytes]) -> bool:
        """True if a ``Done`` payload starting with the U32 ``first`` (and ``head``, the next 4
        bytes, read only when ``first`` is 12) is in this dialect."""

    @abc.abstractmethod
    def read_position(self, r: Reader, first: int) -> Parse:
        """The rest of a position payload after its first U32: returns ``(position, layout)``."""

    @abc.abstractmethod
    def read_data(self, r: Reader, first: int, head: Optional[bytes]) -> Parse:
        """The rest of a ``Done`` payload after its first U32 (and ``head``): returns
        ``(payload, layout)``."""


def claim_error(what: str, first: int) -> str:
    """The message of a payload that no codec claims."""
    return f'{what} starting with the length {first} is in no known dialect'


