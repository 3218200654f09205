"""Plain data classes mirroring PyMoDAQ's Axis / DataWithAxes / DataToExport on the wire.

No pymodaq import: the plugins convert these to and from ``pymodaq_data`` objects.  Field names
and order follow docs/protocol.rst §1.6-1.8 (pymodaq4 dialect).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np

#: class names a DWA may carry on the wire (docs/protocol.rst §1.7)
DWA_CLASSES = ('DataWithAxes', 'DataRaw', 'DataActuator', 'DataFromPlugins', 'DataCalculated')
SOURCES = ('raw', 'calculated')
DIMS = ('Data0D', 'Data1D', 'Data2D', 'DataND')
DISTRIBUTIONS = ('uniform', 'spread')


@dataclass
class Axis:
    """One axis of a DataWithAxes (docs/protocol.rst §1.6).

    Attributes:
        label: axis label, e.g. ``'wavelength'``.
        units: pint units string, e.g. ``'nm'``; ``''`` when dimensionless.
        data: 1D array of the axis values (a linear axis is sent as its full vector).
        index: which array dimension the axis describes.
        spread_order: 0 for uniform data.
    """

    label: str = ''
    units: str = ''
    data: np.ndarray = field(default_factory=lambda: np.zeros(0))
    index: int = 0
    spread_order: int = 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Axis):
            return NotImplemented
        return (self.label, self.units, self.index, self.spread_order) == \
            (other.label, other.units, other.index, other.spread_order) \
            and _arrays_equal([self.data], [other.data])


def dim_of_shape(shape: Sequence[int]) -> str:
    """PyMoDAQ dim name of an array shape: () or (1,) -> Data0D, (N,) -> Data1D, (N, M) -> Data2D,
    more dimensions -> DataND (the rule of PyMoDAQ's DataWithAxes)."""
    if len(shape) == 0 or tuple(shape) == (1,):
        return 'Data0D'
    return {1: 'Data1D', 2: 'Data2D'}.get(len(shape), 'DataND')


@dataclass
class DataWithAxes:
    """A group of same-shaped channels with axes (docs/protocol.rst §1.7).

    Attributes:
        name: data name (for a DataActuator: the DAQ_Move title).
        data: list of numpy arrays, one per channel, all of the same shape.
        class_name: wire class, one of :data:`DWA_CLASSES`.
        units: pint units of the values (sent only in the 4.4 layout).
        source: ``'raw'`` or ``'calculated'``.
        dim: ``'Data0D'`` ... ``'DataND'``; derived from the first array if ``None``.
        distribution: ``'uniform'`` or ``'spread'``.
        labels: one label per channel; ``CH00``, ``CH01``... if empty.
        origin: name of the DataToExport / module this came from.
        nav_indexes: navigation axes indexes (DataND).
        axes: list of :class:`Axis`.
        errors: list of arrays (same shapes as ``data``) or empty.
        extra_attributes: name -> value (bool, number, str, array, list...); PyMoDAQ's
            DataFromPlugins carries ``do_plot`` and ``do_save``.
        timestamp: seconds since the epoch (``time.time()``).
    """

    name: str
    data: list
    class_name: str = 'DataRaw'
    units: str = ''
    source: str = 'raw'
    dim: Optional[str] = None
    distribution: str = 'uniform'
    labels: list = field(default_factory=list)
    origin: str = ''
    nav_indexes: tuple = ()
    axes: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    extra_attributes: dict = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.data = [np.asarray(a) for a in self.data]
        if self.dim is None:
            self.dim = dim_of_shape(self.data[0].shape) if self.data else 'Data0D'
        if not self.labels:
            self.labels = [f'CH{i:02d}' for i in range(len(self.data))]
        self.nav_indexes = tuple(int(i) for i in self.nav_indexes)

    @property
    def value(self) -> Any:
        """First element of the first channel, as a Python number (a DataActuator's position)."""
        return self.data[0].reshape(-1)[0].item()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataWithAxes):
            return NotImplemented
        scalar_fields = ('name', 'class_name', 'units', 'source', 'dim', 'distribution', 'labels',
                         'origin', 'nav_indexes', 'axes', 'timestamp')
        return all(getattr(self, f) == getattr(other, f) for f in scalar_fields) \
            and _arrays_equal(self.data, other.data) and _arrays_equal(self.errors, other.errors) \
            and values_equal(self.extra_attributes, other.extra_attributes)


@dataclass
class DataToExport:
    """A named list of :class:`DataWithAxes` (docs/protocol.rst §1.8): what a PyMoDAQ detector emits."""

    name: str
    data: list = field(default_factory=list)
    timestamp: float = field(default_factory=time.time)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataToExport):
            return NotImplemented
        return (self.name, self.timestamp, self.data) == (other.name, other.timestamp, other.data)


@dataclass(frozen=True)
class SerializedParameter:
    """The ``'parameter'`` list item of PyMoDAQ 4.3+ (docs/protocol.rst §1.5): a path and one parameter's XML."""

    path: tuple
    xml: str


def data_actuator(value: Union[int, float, complex, np.generic, np.ndarray], units: str = '',
                  name: str = 'actuator') -> DataWithAxes:
    """A PyMoDAQ ``DataActuator`` (docs/protocol.rst §1.7): one channel holding ``array([value])``.

    ``value`` keeps its numeric type: a Python int becomes ``'<i8'``, a float ``'<f8'``.
    """
    return DataWithAxes(name=name, data=[np.array([value])], class_name='DataActuator',
                        units=units, dim='Data0D')


def _arrays_equal(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind in 'fc')
        for x, y in zip(a, b))


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality of wire values: arrays compare dtype, shape and content (NaN == NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and _arrays_equal([a], [b])
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b
