"""The three dialects spoken on the wire and the four pymodaq4 DataWithAxes layouts (docs/protocol.rst §1.9)."""
from __future__ import annotations

import enum


class Dialect(str, enum.Enum):
    """How data and positions are encoded on one connection.

    ``LEGACY``: PyMoDAQ 3.0.2-4.0.11, the LabVIEW example and the public doc (data = list of typed
    arrays, positions = typed scalars).  ``PYMODAQ4``: the serializer of PyMoDAQ 4.1-4.4
    (DataToExport / DataActuator with axes, units, labels).  ``PYMODAQ5``: the modules of PyMoDAQ
    5.0-5.1 (every object in a length envelope with a type tag, :mod:`tcpbridge.protocol.pymodaq5`);
    a framing of its own, known from the hello.
    """

    LEGACY = 'legacy'
    PYMODAQ4 = 'pymodaq4'
    PYMODAQ5 = 'pymodaq5'

    @classmethod
    def parse(cls, value: str | Dialect) -> Dialect:
        """Return the dialect named ``value`` ('legacy' or 'pymodaq4'); raise ValueError otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown dialect {value!r}: use 'legacy', 'pymodaq4' or 'pymodaq5'") from None


class DwaLayout(enum.IntEnum):
    """Field layout of a DataWithAxes in the pymodaq4 dialect (docs/protocol.rst §1.7, §1.9).

    The value orders the layouts by age.  Writers use ``V4_4`` unless told otherwise; readers tell
    ``V4_4`` from older layouts by the bytes (docs/protocol.rst §6) and need ``V4_1_0``/``V4_1_3`` as a setting.
    """

    V4_1_0 = 410  #: fields 1-3, 5-12
    V4_1_3 = 413  #: + extra attributes (14-15)
    V4_2 = 420    #: + errors (13), PyMoDAQ 4.2.0-4.3.7
    V4_4 = 440    #: + units (4), PyMoDAQ 4.4.x

    @property
    def has_units(self) -> bool:
        return self >= DwaLayout.V4_4

    @property
    def has_errors(self) -> bool:
        return self >= DwaLayout.V4_2

    @property
    def has_extras(self) -> bool:
        return self >= DwaLayout.V4_1_3
