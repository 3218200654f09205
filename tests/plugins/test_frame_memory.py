"""Received frames, and the copies PyMoDAQ's DAQ_Viewer makes of them, are freed by reference counting
alone (``acyclic.py``): with Python's cyclic garbage collector switched off, a live Grab of many frames
keeps only the few that are in use.  Before, every deep copy PyMoDAQ made of a frame (two per displayed
frame in DAQ_Viewer) was a reference cycle, and a fast camera's copies piled up until a collection of
the oldest generation: the RSS growth of issue 26, item 5."""
from __future__ import annotations

import copy
import gc
import pickle
import time
import weakref
from typing import Iterator, List

import numpy as np
import pytest
from pymodaq.utils.data import DataToExport, DataWithAxes
from pymodaq.utils.gui_utils.loader_utils import create_load_daq_viewer
from qtpy.QtWidgets import QApplication

from helpers import qt_app, wait_until
from pymodaq_plugins_tcpbridge.acyclic import WeakSlicer, detach_slicers
from pymodaq_plugins_tcpbridge.convert import legacy_to_dte
from tcpbridge import GrabberClient

#: a shape no other test or PyMoDAQ object uses, so that live copies can be counted by shape
FRAME_SHAPE = (97, 61)


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the test: only reference counting frees objects."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def frame(value: float = 1.0) -> DataToExport:
    """A 2D frame as the plugin makes it from a client's answer, detached."""
    dte = legacy_to_dte([np.full(FRAME_SHAPE, value)], 'camera')
    detach_slicers(dte)
    return dte


def test_a_detached_frame_and_its_deep_copies_are_freed_without_the_cyclic_gc(no_cyclic_gc) -> None:
    dte = frame()
    copies = [dte.deepcopy(), dte[0].deepcopy(), copy.deepcopy(dte[0]),
              dte.get_data_from_attribute('do_plot', True, deepcopy=True),  # DAQ_Viewer's two copies
              dte.get_data_from_missing_attribute('do_plot', deepcopy=True)]
    copies.append(copies[0].deepcopy())  # a copy of a copy
    refs = [weakref.ref(dte[0])] + [weakref.ref(c[0] if isinstance(c, DataToExport) else c) for c in copies
                                    if len(c) > 0]
    assert len(refs) >= 6
    del dte, copies
    assert [r() for r in refs] == [None] * len(refs)


def test_ordinary_pymodaq_data_is_a_cycle(no_cyclic_gc) -> None:
    """The control of the test above: without detach_slicers PyMoDAQ's objects outlive their last use."""
    dte = legacy_to_dte([np.full(FRAME_SHAPE, 1.0)], 'camera')
    ref = weakref.ref(dte[0])
    del dte
    assert ref() is not None
    gc.collect()
    assert ref() is None


def test_copies_of_a_detached_frame_slice_and_pickle_like_pymodaqs() -> None:
    dte = frame()
    dte[0].data = [np.arange(np.prod(FRAME_SHAPE), dtype=float).reshape(FRAME_SHAPE)]
    dwa = dte.deepcopy()[0]
    assert isinstance(dwa.isig, WeakSlicer)
    assert dwa.isig[2:5, 3:5].data[0][:, 0].tolist() == [125.0, 186.0, 247.0]  # value = 61 row + column
    assert dwa.isig[0:2, :].shape == (2, FRAME_SHAPE[1])
    assert dwa.axes[0].iaxis[:3].get_data().tolist() == [0, 1, 2]
    dwa.data[0][0, 0] = -1.0  # a deep copy: the original is untouched
    assert dte[0].data[0][0, 0] == 0.0
    restored = pickle.loads(pickle.dumps(dwa))
    assert isinstance(restored, DataWithAxes)
    assert restored.isig[0:2, 0:2].data[0][0, 0] == -1.0
    assert not isinstance(restored.isig, WeakSlicer)  # pickling gives PyMoDAQ's ordinary objects


def live_frames(shape: tuple) -> int:
    """How many DataWithAxes of ``shape`` are alive (this test's frames, PyMoDAQ's copies of them)."""
    return sum(1 for o in gc.get_objects() if isinstance(o, DataWithAxes) and o.shape == shape)


def until_shown(shown: List[int], count: int, timeout: float) -> None:
    """Process Qt events until ``count`` frames were shown or ``timeout`` s passed (PyMoDAQ may skip
    displaying a frame that arrives while the previous one is drawn: no error)."""
    deadline = time.monotonic() + timeout
    while len(shown) < count and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.002)


def test_a_live_grab_keeps_a_bounded_number_of_frames_with_the_cyclic_gc_off(qapp, no_cyclic_gc) -> None:
    """Real DAQ_2DViewer window (offscreen) in live Grab, fed 80 frames by a client; before the fix
    about two copies per displayed frame stayed alive (over 80 here)."""
    qt_app()
    _, viewer = create_load_daq_viewer('memory')
    viewer.daq_type = 'DAQ2D'
    viewer.detector = 'TCPServer'
    viewer.settings.child('detector_settings', 'port_id').setValue(0)
    inited: List[bool] = []
    viewer.init_signal.connect(inited.append)
    viewer.init_hardware_ui(True)
    client = None
    try:
        wait_until(lambda: inited, 30, 'the viewer initialised', qt=True)
        wait_until(lambda: viewer.settings['detector_settings', 'port_id'], 10, 'the port listened on', qt=True)
        client = GrabberClient(port=viewer.settings['detector_settings', 'port_id'],
                               grab=lambda dim: [np.zeros(FRAME_SHAPE)])
        thread = client.start()
        wait_until(lambda: viewer.settings['detector_settings', 'connected'], 30, 'the client connected', qt=True)
        shown: List[int] = []
        viewer.grab_done_signal.connect(lambda dte: shown.append(1))
        viewer.grab()
        peak = 0
        for index in range(80):  # bounded: 80 frames, each shown or given up after 2 s
            client.push([np.full(FRAME_SHAPE, float(index))])
            until_shown(shown, len(shown) + 1, 2.0)
            peak = max(peak, live_frames(FRAME_SHAPE))
        assert len(shown) >= 40, 'the frames did not reach the display'
        assert peak <= 12, f'{peak} frames alive at once'
        viewer.stop_grab()
    finally:
        if client is not None:
            client.stop()
            thread.join(10)
        viewer.quit_fun()
        QApplication.processEvents()


def test_a_slicer_copied_alone_keeps_its_copy_of_the_object() -> None:
    dte = frame()
    slicer = copy.deepcopy(dte[0].isig)
    del dte
    assert slicer.obj is not None
    assert slicer[0:2, 0:2].shape == (2, 2)
