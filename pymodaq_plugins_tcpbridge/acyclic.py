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
(slicing, ``len``, assignment, ``deepcopy``, ``pickle``).  A deep copy of such an object is detached
too: PyMoDAQ's DAQ_Viewer deep-copies every frame it receives and again every frame it displays,
and those copies, ordinary cycles, were what piled up with a fast camera (a 1024x1024 float64 live
Grab held 300+ frames' worth of copies between two collections of the oldest generation, issue 26).
Nothing of PyMoDAQ is patched: its classes, its other objects and the garbage collector's settings
stay as they are.  Objects built anew from a frame (slices, averages, unpickled copies) are
PyMoDAQ's ordinary ones.
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
    unreachable anyway: only its object held it).  A deep copy made with its object is a WeakSlicer
    on the copied object (the copy is freed as soon as its last user drops it), one made alone holds
    its own copy of the object as PyMoDAQ's slicer does; an unpickled copy is PyMoDAQ's ordinary
    slicer (pickles are read by programs without this module).
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
        part_of_its_object = id(self.obj) in memo  # copied with its object, which holds the copy
        slicer = SpecialSlicersData(copy.deepcopy(self.obj, memo), self.is_navigation, self.is_index)
        return WeakSlicer(slicer) if part_of_its_object and slicer.obj is not None else slicer

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

