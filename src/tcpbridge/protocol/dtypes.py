"""The dtype whitelist for arrays and scalars on the wire (docs/protocol.rst §4.16)."""
from __future__ import annotations

import re

import numpy as np

from .errors import EncodeError, InvalidDtype

_WIRE_DTYPE = re.compile(r'[<>|=](b1|i[1248]|u[1248]|f[248]|c8|c16)')
_cache: dict = {}


def dtype_from_wire(text: str) -> np.dtype:
    """numpy dtype for a dtype string received from the peer, e.g. ``'<f8'``, ``'>u2'``, ``'|b1'``.

    Raises:
        InvalidDtype: the string is not ``[<>|=]`` followed by b1, i1-i8, u1-u8, f2-f8, c8 or c16.
    """
    dtype = _cache.get(text)
    if dtype is None:
        if not _WIRE_DTYPE.fullmatch(text):
            raise InvalidDtype(f'dtype {text[:40]!r} is not in the whitelist '
                               '([<>|=] + b1, i1-i8, u1-u8, f2-f8, c8, c16)')
        dtype = _cache[text] = np.dtype(text)
    return dtype


def dtype_to_wire(dtype: np.dtype) -> str:
    """The dtype string PyMoDAQ writes (``dtype.descr[0][1]``, e.g. ``'<f8'``, ``'|u1'``).

    Raises:
        EncodeError: object, structured, string, datetime or other non-plain-numeric dtypes.
    """
    text = dtype.str
    if not _WIRE_DTYPE.fullmatch(text):
        raise EncodeError(f'dtype {dtype} cannot be sent: only bool, int, uint, float and complex '
                          'numbers are allowed on the wire')
    return text
