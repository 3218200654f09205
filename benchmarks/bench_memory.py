"""Memory of a live Grab from a fast camera: a client process pushes 1024x1024 float64 frames (8 MiB)
as fast as it can into the real DAQ_2DViewer (PyMoDAQ's window, offscreen, displaying) through the
TCPServer plugin; the process's resident memory (RSS) is sampled every ``--every`` seconds.

Three allocator settings, each in a process of its own, interleaved over ``--repeats``:

* ``glibc default``: glibc's dynamic mmap threshold.  A freed mmap'd block raises the threshold to its
  size (up to 32 MiB), so the next 8 MiB frames come from the heap arenas, where freed frames leave
  holes that later, differently sized blocks split: memory that is free for the allocator but stays
  resident (``malloc_trim(0)`` at the end hands it back);
* ``fixed mmap threshold``: ``mallopt(M_MMAP_THRESHOLD, 1 MiB)`` at the start, which also stops the
  adjustment, so every frame (and every copy PyMoDAQ makes of it) is mapped and unmapped by itself;
* PyMoDAQ's DAQ_2DViewer fed *in-process* with the same frames (no network), default allocator: what
  PyMoDAQ alone does.

Reported: the RSS growth during the live grab (its maximum minus its value when the grab started) in
frames (8 MiB), which includes filling the pipeline (the bridge's backlog, up to its 64 MiB limit,
and PyMoDAQ's copies); the drift once the pipeline is full (maximum after 10 s minus the value at
10 s); the RSS after ``gc`` + ``malloc_trim(0)`` at the end, and frames/s through DAQ_Viewer;
each RSS sample also records the bridge's backlog (data sets emitted and not yet freed by PyMoDAQ).

    python benchmarks/bench_memory.py [--seconds 120] [--every 5] [--repeats 2]
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

if 'pymodaq_utils.config' not in sys.modules:
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

import numpy as np  # noqa: E402
from bench_streaming import wait  # noqa: E402
from pymodaq.utils.gui_utils.loader_utils import create_load_daq_viewer  # noqa: E402
from pymodaq_gui.qt_utils import mkQApp  # noqa: E402
from qtpy.QtCore import QEventLoop, QTimer  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import row, rss_mib, run_one  # noqa: E402

from pymodaq_plugins_tcpbridge.acyclic import detach_slicers  # noqa: E402
from pymodaq_plugins_tcpbridge.convert import legacy_to_dte  # noqa: E402
from pymodaq_plugins_tcpbridge.viewer import DAQ_xDViewer_TCPServer  # noqa: E402

SHAPE, DTYPE = (1024, 1024), 'float64'
FRAME_MIB = np.prod(SHAPE) * np.dtype(DTYPE).itemsize / (1 << 20)
MODES = {'default': 'tcpbridge, glibc default', 'fixed': 'tcpbridge, fixed mmap threshold',
         'local': 'PyMoDAQ DAQ_2DViewer fed in-process (no network)'}

#: the camera: pushes as fast as the bridge takes frames (back-pressure slows it), until stdin closes
CLIENT = r'''
import sys, threading, numpy as np
from tcpbridge import GrabberClient
port, shape = int(sys.argv[1]), (1024, 1024)
client = GrabberClient(port=port, dialect='pymodaq4', grab=lambda dim: [np.zeros(shape)])
thread = client.start()
if not client.connected.wait(20):
    sys.exit('not connected')
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
frames = [np.random.default_rng(i).random(shape) for i in range(4)]
index = 0
while not stop.is_set():
    try:
        client.push([frames[index % 4]])
    except OSError:
        break
    index += 1
client.stop()
thread.join(5)
'''


#: seconds after which the pipeline is full (the bridge's backlog, PyMoDAQ's copies, the display):
#: the RSS drift is measured from there
STEADY_AFTER_S = 10.0

#: glibc's mallopt parameter number of the mmap threshold (malloc.h)
M_MMAP_THRESHOLD = -3


def glibc() -> ctypes.CDLL:
    """This process's C library (glibc: the benchmark runs on Linux)."""
    return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')


def trim() -> float:
    """RSS after ``gc.collect()`` and glibc's ``malloc_trim(0)``, MiB."""
    gc.collect()
    glibc().malloc_trim(0)
    return rss_mib()


def run_mode(mode: str, seconds: float, every: float) -> Dict[str, object]:
    _, viewer = create_load_daq_viewer('memory 2D')
    viewer.daq_type = 'DAQ2D'
    viewer.detector = 'TCPServer'
    viewer.settings.child('detector_settings', 'port_id').setValue(0)
    if mode == 'fixed' and glibc().mallopt(M_MMAP_THRESHOLD, 1 << 20) != 1:
        raise RuntimeError('mallopt(M_MMAP_THRESHOLD) refused')
    inited: List[bool] = []
    viewer.init_signal.connect(inited.append)
    viewer.init_hardware_ui(True)
    wait(lambda: inited, 30)
    plugin = next(o for o in gc.get_objects() if isinstance(o, DAQ_xDViewer_TCPServer) and o.bridge is not None)
    frames = [0]
    viewer.grab_done_signal.connect(lambda dte: frames.__setitem__(0, frames[0] + 1))
    stop = threading.Event()
    if mode == 'local':
        images = [np.random.default_rng(i).random(SHAPE) for i in range(4)]

        def source() -> None:
            index = 0
            while not stop.is_set():  # as fast as a local camera plugin: PyMoDAQ's queue is the limit
                dte = legacy_to_dte([images[index % 4].copy()], plugin._title)
                detach_slicers(dte)
                plugin.dte_signal.emit(dte)
                index += 1
                time.sleep(0.001)
        feeder = threading.Thread(target=source, daemon=True)
        viewer.grab()
        feeder.start()
    else:
        client = subprocess.Popen([sys.executable, '-c', CLIENT, str(plugin.bridge.address[1])],
                                  stdin=subprocess.PIPE, text=True)
        wait(lambda: plugin.client_connected, 30)
        viewer.grab()
        wait(lambda: frames[0] > 0, 30)
    started, samples = time.monotonic(), []
    next_sample = started
    heartbeat = QTimer()
    heartbeat.start(50)
    while time.monotonic() - started < seconds:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        if time.monotonic() >= next_sample:
            backlog = plugin.bridge.backlog if mode != 'local' else None
            samples.append((time.monotonic() - started, rss_mib(), frames[0], backlog[0] if backlog else 0))
            next_sample += every
    heartbeat.stop()
    frames_done = frames[0]
    viewer.stop_grab()
    stop.set()
    if mode != 'local':
        client.stdin.close()
        client.wait(30)
    wait_quiet(2.0)
    rss = [s[1] for s in samples]
    steady = next(i for i, sample in enumerate(samples) if sample[0] >= min(STEADY_AFTER_S, samples[-1][0]))
    return {'mode': mode, 'seconds': seconds, 'samples': samples, 'rss_start_mib': rss[0], 'rss_max_mib': max(rss),
            'growth_frames': (max(rss) - rss[0]) / FRAME_MIB,
            'drift_frames': (max(rss[steady:]) - rss[steady]) / FRAME_MIB, 'rss_after_trim_mib': trim(),
            'frames_per_s': frames_done / seconds}


def wait_quiet(seconds: float) -> None:
    """Process events for ``seconds`` (the last frames reach the viewer and are dropped)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def one(mode: str, seconds: float, every: float) -> Dict[str, object]:
    return run_one(__file__, [mode, str(seconds), str(every)], '{"mode"', seconds + 240)


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=120.0, help='per run, the live grab')
    parser.add_argument('--every', type=float, default=5.0, help='seconds between two RSS samples')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--one', nargs=3, metavar=('MODE', 'SECONDS', 'EVERY'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        app = mkQApp('tcpbridge memory benchmark')  # noqa: F841 (kept alive for the run)
        print(json.dumps(run_mode(args.one[0], float(args.one[1]), float(args.one[2]))), flush=True)
        os._exit(0)
    runs: Dict[str, List[Dict[str, object]]] = {mode: [] for mode in MODES}
    for _ in range(args.repeats):  # interleaved: the machine's state drifts alike for every mode
        for mode in MODES:
            runs[mode].append(one(mode, args.seconds, args.every))
    rows = []
    case = f'2D {SHAPE[0]}x{SHAPE[1]} {DTYPE} ({FRAME_MIB:g} MiB) live grab into DAQ_2DViewer, {args.seconds:g} s'
    for mode, system in MODES.items():
        results = runs[mode]
        rows.append(row(system, f'{case}: RSS growth (max - start), in frames', 'frames',
                        [r['growth_frames'] for r in results]))
        rows.append(row(system, f'{case}: RSS drift after the first {STEADY_AFTER_S:g} s (max - value then), in frames',
                        'frames', [r['drift_frames'] for r in results]))
        rows.append(row(system, f'{case}: RSS after gc + malloc_trim at the end', 'MiB',
                        [r['rss_after_trim_mib'] for r in results]))
        rows.append(row(system, f'{case}: frames per s through DAQ_Viewer', 'Hz', [r['frames_per_s'] for r in results]))
    return {'rows': rows, 'runs': runs}


if __name__ == '__main__':
    print(json.dumps(main(), indent=2))
