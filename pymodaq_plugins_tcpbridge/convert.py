"""Conversions between the wire objects of :mod:`tcpbridge` and PyMoDAQ 5's data objects."""
from __future__ import annotations

from collections import OrderedDict
from typing import List, Union

import numpy as np
from pymodaq.utils.data import Axis, DataActuator, DataFromPlugins, DataToExport, DataWithAxes
from pymodaq_data import Unit

from tcpbridge import wire

#: names of the index axes given to legacy data, which carries none (docs/protocol.rst §1.5)
INDEX_AXES = {'Data1D': ('pixel',), 'Data2D': ('row', 'column')}


def legacy_to_dte(arrays: List[np.ndarray], name: str) -> DataToExport:
    """Legacy ``Done`` payload (a list of arrays) as a DataToExport.

    Arrays of the same shape become the channels of one ``DataFromPlugins`` named ``name`` (dim from
    the shape: (1,) is 0D, (N,) 1D, (N, M) 2D, more ND); arrays of other shapes make further
    ``DataFromPlugins`` named ``name_1``, ``name_2``...  A 0-d array is taken as shape (1,).
    1D and 2D data get index axes (``pixel``; ``row``, ``column``), so that a saved file says
    what its signal axes are.
    """
    groups: OrderedDict[tuple, List[np.ndarray]] = OrderedDict()
    for array in arrays:
        array = np.atleast_1d(array)
        groups.setdefault(array.shape, []).append(array)
    data = []
    for index, channels in enumerate(groups.values()):
        shape = channels[0].shape
        dim = wire.dim_of_shape(shape)
        axes = [Axis(label, '', scaling=1., offset=0., size=n, index=i)  # linear: no vector to build or check
                for i, (label, n) in enumerate(zip(INDEX_AXES.get(dim, ()), shape))]
        data.append(DataFromPlugins(name if index == 0 else f'{name}_{index}', data=channels, dim=dim, axes=axes,
                                    nav_indexes=(0,) if dim == 'DataND' else ()))
    return DataToExport(name, data=data)


def _axis(axis: wire.Axis) -> Axis:
    return Axis(axis.label, axis.units, data=np.asarray(axis.data), index=axis.index,
                spread_order=axis.spread_order)


def dwa_to_data_from_plugins(dwa: wire.DataWithAxes) -> DataFromPlugins:
    """A pymodaq4 DataWithAxes (any class) as the ``DataFromPlugins`` a plugin emits: name, units,
    labels, axes, nav_indexes, errors and the ``do_plot`` / ``do_save`` extras are kept."""
    extras = {key: bool(dwa.extra_attributes[key]) for key in ('do_plot', 'do_save')
              if key in dwa.extra_attributes}
    data = [np.atleast_1d(a) for a in dwa.data]
    return DataFromPlugins(dwa.name, data=data, units=dwa.units, labels=list(dwa.labels),
                           axes=[_axis(a) for a in dwa.axes], nav_indexes=tuple(dwa.nav_indexes),
                           distribution=dwa.distribution,
                           errors=[np.atleast_1d(e) for e in dwa.errors] or None, **extras)


def wire_dte_to_dte(dte: wire.DataToExport) -> DataToExport:
    """A pymodaq4 DataToExport as PyMoDAQ 5's."""
    return DataToExport(dte.name, data=[dwa_to_data_from_plugins(d) for d in dte.data])


def dwa_to_wire(dwa: DataWithAxes) -> wire.DataWithAxes:
    """A PyMoDAQ 5 DataWithAxes (e.g. a hosted detector's DataFromPlugins) as the wire object of the
    pymodaq4 dialect: arrays (not copied), name, units, labels, axes (full vectors), nav_indexes,
    errors and the ``do_plot`` / ``do_save`` extras.  Other extras are left out (their values may be
    any Python object; the wire carries numbers, text and arrays)."""
    extras = {key: bool(getattr(dwa, key)) for key in ('do_plot', 'do_save') if key in dwa.extra_attributes}
    axes = [wire.Axis(axis.label, axis.units, np.asarray(axis.get_data(), dtype=float), axis.index,
                      axis.spread_order) for axis in dwa.axes]
    errors = [np.asarray(e) for e in dwa.errors] if dwa.errors else []
    return wire.DataWithAxes(dwa.name, data=list(dwa.data), class_name='DataFromPlugins', units=dwa.units,
                             source=dwa.source.name, dim=dwa.dim.name, distribution=dwa.distribution.name,
                             labels=list(dwa.labels), origin=dwa.origin or '', nav_indexes=tuple(dwa.nav_indexes),
                             axes=axes, errors=errors, extra_attributes=extras, timestamp=dwa.timestamp)


def dte_to_wire(dte: DataToExport) -> wire.DataToExport:
    """A PyMoDAQ 5 DataToExport as the wire object (see :func:`dwa_to_wire`)."""
    return wire.DataToExport(dte.name, data=[dwa_to_wire(dwa) for dwa in dte], timestamp=dte.timestamp)


def payload_to_dte(payload: Union[list, wire.DataToExport], name: str) -> DataToExport:
    """The payload of a ``Done`` message, whatever its dialect, as a DataToExport."""
    if isinstance(payload, wire.DataToExport):
        return wire_dte_to_dte(payload)
    return legacy_to_dte(payload, name)


def position_to_actuator(value: float, name: str, units: str) -> DataActuator:
    """A position received from a client (already a number, in the axis units) as a DataActuator."""
    return DataActuator(name, data=[np.array([value], dtype=float)], units=units)


def actuator_to_wire(position: DataActuator, units: str) -> wire.DataWithAxes:
    """A PyMoDAQ DataActuator (in axis units) as the wire DataActuator of the move commands.

    The name stays 'actuator' and the origin '' (PyMoDAQ's ModulesManager collects the moves of a
    scan by origin: two actuators sent one origin would count once and the scan time out); the
    legacy dialect sends only the value.
    """
    return wire.data_actuator(float(position.value()), units=units)


#: units longer than this are refused (pint would parse them, slowly, and nobody names units so)
MAX_UNITS_LENGTH = 64


def units_problem(units: str) -> str:
    """Why PyMoDAQ's unit registry (pint) cannot take ``units`` for an axis, or '' if it can ('' is
    dimensionless)."""
    if len(units) > MAX_UNITS_LENGTH:
        return f'longer than {MAX_UNITS_LENGTH} characters'
    if not units:
        return ''
    try:
        Unit(units)
    except Exception as error:  # pint raises several kinds (undefined, syntax, attribute...)
        return f'not a unit: {type(error).__name__}'
    return ''
