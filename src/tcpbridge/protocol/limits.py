"""Limits applied to every length field read from the network (docs/protocol.rst §4.3), and the memory
budget shared by the connections of one server."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import BudgetExceeded

GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Upper bounds checked by the decoder before it allocates anything.

    Attributes:
        max_payload_bytes: total bytes of one message (command string included); default 1 GiB.
            The wire format caps one array at 4 GiB - 1 anyway (U32 byte count, docs/protocol.rst §1.1).
        max_string_bytes: UTF-8 bytes of one string (an ``Infos`` XML is the largest usual one).
        max_list_length: items of one list (channels, labels, axes, path elements...).
        max_ndim: dimensions of one array.
        max_depth: nesting of lists / DWA / DTE inside one message.
        max_command_bytes: length of a command string and of the hello (``GRABBER``/``ACTUATOR``).
    """

    max_payload_bytes: int = GIB
    max_string_bytes: int = 16 << 20
    max_list_length: int = 65536
    max_ndim: int = 32
    max_depth: int = 16
    max_command_bytes: int = 64

    def __post_init__(self) -> None:
        for name in ('max_payload_bytes', 'max_string_bytes', 'max_list_length', 'max_ndim',
                     'max_depth', 'max_command_bytes'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')


DEFAULT_LIMITS = Limits()


class ReceiveBudget:
    """Bytes of large fields being received at once, across the connections of one server.

    A decoder reserves a field's size before allocating its buffer and releases it when the field
    is complete or the connection closes, so what hostile or slow peers can make the server hold
    is bounded by ``max_bytes`` whatever their number.  Used from the I/O thread of the server
    (the decoders of its connections); :attr:`used` may be read from any thread.

    Raises:
        ValueError: ``max_bytes`` < 1.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f'max_bytes must be >= 1, got {max_bytes}')
        self.max_bytes = max_bytes
        self._used = 0

    @property
    def used(self) -> int:
        """Bytes reserved now."""
        return self._used

    def reserve(self, nbytes: int) -> None:
        """Reserve ``nbytes``.

        Raises:
            BudgetExceeded: the reservation would pass ``max_bytes``.
        """
        if self._used + nbytes > self.max_bytes:
            raise BudgetExceeded(f'a field of {nbytes} bytes does not fit the receive budget: '
                                 f'{self._used} of {self.max_bytes} bytes are being received '
                                 'on other connections')
        self._used += nbytes

    def release(self, nbytes: int) -> None:
        """Give back ``nbytes`` reserved before."""
        self._used = max(0, self._used - nbytes)
