"""Limits applied to every length field read from the network (WIRE.md §4.3)."""
from __future__ import annotations

from dataclasses import dataclass

GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Upper bounds checked by the decoder before it allocates anything.

    Attributes:
        max_payload_bytes: total bytes of one message (command string included); default 1 GiB.
            The wire format caps one array at 4 GiB - 1 anyway (U32 byte count, WIRE.md §1.1).
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
