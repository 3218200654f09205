"""Received frames freed as soon as their last user drops them, not at the next cyclic GC.

PyMoDAQ's data objects reference themselves: every ``DataWithAxes`` holds four slicers
(``inav``, ``isig``, ``vnav``, ``vsig``) and every ``Axis`` two (``iaxis``, ``vaxis``) whose
``obj`` is the object itself (``pymodaq_data.slicing.SpecialSlicersData``).  Such a cycle is
invisible to reference counting, so a received 8 MiB frame lived until Python's cyclic garbage
collector happened to run: dozens of frames resident at once (610-830 MiB after 200 frames), and
every new frame on fresh pages from the OS (a page fault per 4 KiB, 12-14 ms per frame instead of
4-6 ms) because the receive buffers were never handed back (see
:class:`tcpbridge.protocol.decoder.BufferPool`).

:func:`detach_slicers` replaces the slicers of the objects *this plugin creates* by
:class:`WeakSlicer`, which reaches its object through a weak reference and behaves the same
(slicing, ``len``, assignment, ``deepcopy``, ``pickle``).  Nothing of PyMoDAQ is patched: its
classes, its other objects and the garbage collector's settings stay as they are.  Objects that
consumers derive from a frame (slices, averages, copies) are PyMoDAQ's ordinary ones.
"""
from __future__ import annotations

import copy
import weakref
from typing import Any, Iterable, Optional

from pymodaq.utils.data import DataWithAxes
from pymodaq_data.slicing import SpecialSlicersData


class WeakSlicer(SpecialSlicersData):
    """A ``SpecialSlicersData`` that does not keep its object alive (no reference cycle).

    Built from the slicer it replaces; ``obj`` is None once the object is gone (the slicer is then
    unreachable anyway: only its object held it).  A deep copy or an unpickled copy is PyMoDAQ's
    ordinary slicer on the copied object, so copies behave exactly as PyMoDAQ makes them.
    """

    def __init__(self, slicer: SpecialSlicersData) -> None:  # not super().__init__: it would set obj
        self.is_navigation = slicer.is_navigation
        self.is_index = slicer.is_index
        self._ref = weakref.ref(slicer.obj)

    @property
    def obj(self) -> Optional[Any]:
        """The DataWithAxes or Axis sliced, or None once it is gone."""
        return self._ref()

    def __deepcopy__(self, memo: dict) -> SpecialSlicersData:
        return SpecialSlicersData(copy.deepcopy(self.obj, memo), self.is_navigation, self.is_index)

    def __reduce__(self) -> tuple:
        return SpecialSlicersData, (self.obj, self.is_navigation, self.is_index)


def _detach(obj: object) -> None:
    for name, value in list(vars(obj).items()):
        if type(value) is SpecialSlicersData and value.obj is obj:
            setattr(obj, name, WeakSlicer(value))


def detach_slicers(data: Iterable[DataWithAxes]) -> None:
    """Give every DataWithAxes of ``data`` (a DataToExport, or a list) and each of its axes weak
    slicers (see the module docstring), in place; objects already detached are left as they are."""
    for dwa in data:
        _detach(dwa)
        for axis in dwa.axes:
            _detach(axis)

