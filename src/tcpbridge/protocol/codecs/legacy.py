"""The legacy dialect (docs/protocol.rst §1.3, §1.5, §2): PyMoDAQ 3.0.2-4.0.11, the LabVIEW example and the
public doc.  A position is a SCALAR (its dtype string first: at most 4 bytes, e.g. ``'<f8'``);
``Done`` data is a LIST of arrays (scalars are taken as 0-d arrays).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..data import DataToExport
from ..dialects import Dialect, DwaLayout
from ..errors import MalformedPayload
from ..grammar import MAX_DTYPE_LEN, Parse, Reader, Writer, check_position
from ..messages import Payload, Position, position_value
from .base import PayloadCodec


class LegacyCodec(PayloadCodec):
    """Positions as typed scalars, data as lists of typed arrays."""

    dialect = Dialect.LEGACY

    def write_position(self, w: Writer, position: Position, layout: DwaLayout) -> None:
        # a 0-d array or numpy scalar keeps its dtype ('>f8' too); a DataActuator gives its value
        w.scalar(position if isinstance(position, (np.generic, np.ndarray)) else position_value(position))

    def write_data(self, w: Writer, data: Payload, layout: DwaLayout) -> None:
        if isinstance(data, DataToExport):  # legacy carries only arrays: flatten every channel
            data = [array for dwa in data.data for array in dwa.data]
        w.list([np.asarray(a) for a in data], layout, legacy=True)

    def claims_position(self, first: int) -> bool:
        return first <= MAX_DTYPE_LEN

    def claims_data(self, first: int, head: Optional[bytes]) -> bool:
        return head != b'Data'

    def read_position(self, r: Reader, first: int) -> Parse:
        return check_position((yield from r.scalar('position', first))), None

    def read_data(self, r: Reader, first: int, head: Optional[bytes]) -> Parse:
        tag_len = None if head is None else int.from_bytes(head, 'big')
        items = yield from r.items('Done data', first, tag_len)
        arrays = []
        for value in items:
            if not isinstance(value, (np.ndarray, bool, int, float, complex)):
                raise MalformedPayload(f'legacy Done data holds a {type(value).__name__}, expected arrays')
            arrays.append(np.asarray(value))
        return arrays, None


CODEC = LegacyCodec()
