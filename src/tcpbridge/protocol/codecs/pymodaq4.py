"""The pymodaq4 dialect (docs/protocol.rst §1.6-1.9): PyMoDAQ 4.1-4.4's serializer.  A position is a DWA of
class ``DataActuator``; ``Done`` data is a DTE (``'DataToExport'`` first, told by its 16 bytes).
The DWA layout (4.1.0, 4.1.3, 4.2-4.3, 4.4) is read from the bytes where it can be (docs/protocol.rst §6).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..data import DataToExport, DataWithAxes, data_actuator
from ..dialects import Dialect, DwaLayout
from ..errors import MalformedPayload
from ..grammar import MAX_DTYPE_LEN, Parse, Reader, Writer, check_position
from ..messages import Payload, Position
from .base import PayloadCodec

_DTE = b'DataToExport'


class Pymodaq4Codec(PayloadCodec):
    """Positions as DataActuator, data as DataToExport, with axes, units and labels."""

    dialect = Dialect.PYMODAQ4

    def write_position(self, w: Writer, position: Position, layout: DwaLayout) -> None:
        w.dwa(position if isinstance(position, DataWithAxes) else data_actuator(position), layout)

    def write_data(self, w: Writer, data: Payload, layout: DwaLayout) -> None:
        if not isinstance(data, DataToExport):
            data = DataToExport('data', data=[DataWithAxes('data', data=[np.asarray(a)], origin='data',
                                                           class_name='DataFromPlugins')
                                              for a in data])
        w.dte(data, layout)

    def claims_position(self, first: int) -> bool:
        return first > MAX_DTYPE_LEN  # a DWA class name: longer than any dtype string

    def claims_data(self, first: int, head: Optional[bytes]) -> bool:
        return first == len(_DTE) and head == _DTE[:4]

    def read_position(self, r: Reader, first: int) -> Parse:
        return check_position((yield from r.dwa(first))), r.layout

    def read_data(self, r: Reader, first: int, head: Optional[bytes]) -> Parse:
        rest = bytes((yield from r.take(len(_DTE) - 4)))
        if rest != _DTE[4:]:
            raise MalformedPayload(f"expected 'DataToExport' after Done, got 'Data{rest!r}'")
        dte = yield from r.dte(class_checked=True)
        return dte, r.layout or r.old_layout


CODEC = Pymodaq4Codec()
