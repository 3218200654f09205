"""Errors raised by the protocol core.

The PyMoDAQ TCP protocol has no message envelope (docs/protocol.rst §1): once a payload cannot be parsed,
the position of the next message is unknown.  Every :class:`ProtocolError` therefore means
*the connection must be closed*; the transports and the server engine do so and log why.
"""
from __future__ import annotations

import errno


class ProtocolError(Exception):
    """Bad bytes from the peer.  The stream cannot be resynchronised: close the connection."""


class LimitExceeded(ProtocolError):
    """A length, count or depth field is over its configured limit (see :class:`tcpbridge.Limits`).

    Raised *before* anything of the claimed size is allocated.
    """


class PayloadTooLarge(LimitExceeded):
    """A byte count (array, string, bytes, or the message total) is over ``max_payload_bytes``."""


class BudgetExceeded(LimitExceeded):
    """A large field does not fit the receive budget shared by every connection of a server
    (:class:`tcpbridge.protocol.limits.ReceiveBudget`): other connections hold it now."""


class StringTooLong(LimitExceeded):
    """A string length field is over ``max_string_bytes``."""


class ListTooLong(LimitExceeded):
    """A list count is over ``max_list_length``."""


class TooManyDimensions(LimitExceeded):
    """An array's ndim is over ``max_ndim``."""


class NestingTooDeep(LimitExceeded):
    """Nested lists / DWA / DTE go deeper than ``max_depth``."""


class UnknownCommand(ProtocolError):
    """A command string that the receiving side does not know (its payload layout is unknown)."""


class UnknownTag(ProtocolError):
    """A list item type tag that is not one of docs/protocol.rst §1.5."""


class InvalidText(ProtocolError):
    """A string that is not valid UTF-8."""


class InvalidDtype(ProtocolError):
    """A dtype string outside the whitelist ``[<>|=]`` + b1, i1-i8, u1-u8, f2-f8, c8, c16."""


class ShapeMismatch(ProtocolError):
    """An array byte count that does not equal prod(shape) * itemsize, or a scalar of wrong size."""


class MalformedPayload(ProtocolError):
    """Any other payload that does not follow docs/protocol.rst (wrong class name, enum value, field)."""


class EncodeError(ValueError):
    """A Python object that cannot be put on the wire (e.g. an object or structured dtype)."""


def connection_lost_reason(error: OSError) -> str:
    """Why a connection ended, from the socket error: a dead link (``ETIMEDOUT``: keepalive probes
    unanswered, or data unacknowledged for the dead-link time, see
    :func:`tcpbridge.net.transport.configure`) is named as such."""
    if error.errno == errno.ETIMEDOUT:
        return ('the link is dead: the other end answered neither keepalive probes nor data for the dead-link '
                f'time (a cable, a power cut, a network or a firewall dropping packets?) [{error.strerror}]')
    return f'connection lost: {error}'
