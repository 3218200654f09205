"""The payload codecs, one module per dialect, and the registry that picks one.

Adding a dialect of the classic framing is adding its module and one line in :data:`CODECS`.
Readers try the codecs in the table's order (docs/protocol.rst §6: a legacy position starts with a dtype
string of at most 4 bytes, a pymodaq4 one with a longer class name; pymodaq4 data starts with
``'DataToExport'``).
"""
from __future__ import annotations

from typing import Dict, Optional

from ..dialects import Dialect
from ..errors import MalformedPayload
from .base import PayloadCodec, claim_error
from .legacy import CODEC as LEGACY
from .pymodaq4 import CODEC as PYMODAQ4

#: dialect -> codec; the order is the detection order
CODECS: Dict[Dialect, PayloadCodec] = {
    Dialect.PYMODAQ4: PYMODAQ4,
    Dialect.LEGACY: LEGACY,
}


def codec_for(dialect: Dialect) -> PayloadCodec:
    """The codec of ``dialect``.  Raises KeyError for a dialect without codec."""
    return CODECS[dialect]


def position_codec(first: int) -> PayloadCodec:
    """The codec whose position payloads start with the U32 ``first``.  Raises MalformedPayload."""
    for codec in CODECS.values():
        if codec.claims_position(first):
            return codec
    raise MalformedPayload(claim_error('position', first))


def data_codec(first: int, head: Optional[bytes]) -> PayloadCodec:
    """The codec whose ``Done`` payloads start with ``first`` (and ``head``).  Raises MalformedPayload."""
    for codec in CODECS.values():
        if codec.claims_data(first, head):
            return codec
    raise MalformedPayload(claim_error('Done data', first))


__all__ = ['CODECS', 'PayloadCodec', 'codec_for', 'data_codec', 'position_codec']
