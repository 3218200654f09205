"""Many instruments in one process: N DAQ_2DViewer_TCPServer plugins, each hosted as PyMoDAQ's
DAQ_Viewer hosts its plugin (a QThread of its own, ``dte_signal`` received in the main thread), each
fed by a client process that streams 512x512 uint16 frames as fast as the bridge takes them
(``GrabberClient.push`` in a loop, paced by the bridge's back-pressure), the plugins in a live grab.

Reported for 1 and 16 instruments, after a warm-up (``--warm-up``), interleaved repeats, each case
in a process of its own: the aggregate frames per second received in the main thread, the ratio of
the 16-instrument aggregate to the one-instrument aggregate measured in the same repeat, and per
frame, for the plugins' process (all its threads): CPU time (user + system, and system alone),
context switches and page faults.  The clients run on the same machine: their CPU is taken from the
same cores, as it would not be with instruments on other PCs.

    python benchmarks/bench_scale.py [--instruments 1,16] [--seconds 10] [--warm-up 10] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

if 'pymodaq_utils.config' not in sys.modules:
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

from pymodaq.utils.plugin_testing import make_detector  # noqa: E402
from pymodaq_gui.qt_utils import mkQApp  # noqa: E402
from qtpy.QtCore import QEventLoop, QObject, QThread, Signal  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import row, run_one  # noqa: E402

from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer import DAQ_2DViewer_TCPServer  # noqa: E402

SHAPE = (512, 512)

#: a streaming camera on the instrument PC: pushes from 'go' (a line on stdin) until stdin closes
CLIENT = r'''
import os, sys, threading, numpy as np
from tcpbridge import GrabberClient
frame = np.random.default_rng(int(sys.argv[1])).integers(0, 4096, (512, 512), dtype=np.uint16)
client = GrabberClient(port=int(sys.argv[1]), dialect='pymodaq4', grab=lambda dim: [frame])
thread = client.start()
if not client.connected.wait(30):
    sys.exit('not connected')
print('connected', flush=True)
sys.stdin.readline()
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
pushed, times = 0, os.times()
while not done.is_set():
    try:
        client.push([frame])
    except Exception:
        break
    pushed += 1
client.stop()
thread.join(5)
now = os.times()
print(pushed, now.user - times.user + now.system - times.system, flush=True)
'''


def wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Process Qt events until ``condition()``, or raise TimeoutError naming ``what``."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f'{what}: not within {seconds:g} s')
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)


class HostedPlugin(QObject):
    """A DAQ_2DViewer_TCPServer in a QThread of its own (as DAQ_Viewer's DAQ_Detector runs it): made,
    initialised and put in a live grab there; its ``dte_signal`` counted in the main thread."""

    make = Signal()
    start_live = Signal()
    close_plugin = Signal()

    def __init__(self, counter: FrameCounter) -> None:
        super().__init__()
        self.counter = counter
        self.plugin = None
        self.thread = QThread()
        self.moveToThread(self.thread)
        self.make.connect(self._make)
        self.start_live.connect(self._start_live)
        self.close_plugin.connect(self._close)
        self.thread.start()

    def _make(self) -> None:
        self.plugin = make_detector(DAQ_2DViewer_TCPServer, port_id=0)
        self.plugin.dte_signal.connect(self.counter.count)  # queued: the main thread receives, as DAQ_Viewer

    def _start_live(self) -> None:
        self.plugin.grab_data(live=True)

    def _close(self) -> None:
        self.plugin.stop()
        self.plugin.close()
        self.thread.quit()


class FrameCounter(QObject):
    """Counts the data sets that reach the main thread."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    def count(self, dte) -> None:
        if dte[0].shape != SHAPE:
            raise RuntimeError(f'a frame of shape {dte[0].shape}')
        self.frames += 1


def run_case(instruments: int, seconds: float, warm_up_s: float) -> Dict[str, float]:
    """``instruments`` plugins and client processes; frames and CPU over ``seconds`` after ``warm_up_s``
    of streaming (the receive buffers' pools fill: see ``--warm-up``)."""
    counter = FrameCounter()
    hosts = [HostedPlugin(counter) for _ in range(instruments)]
    for host in hosts:
        host.make.emit()
    wait(lambda: all(h.plugin is not None and h.plugin.bridge is not None for h in hosts), 60, 'plugins initialised')
    clients = [subprocess.Popen([sys.executable, '-c', CLIENT, str(h.plugin.bridge.address[1])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for h in hosts]
    try:
        for client in clients:
            if client.stdout.readline().strip() != 'connected':
                raise RuntimeError('a client did not connect')
        wait(lambda: all(h.plugin.client_connected for h in hosts), 30, 'clients in control')
        for host in hosts:
            host.start_live.emit()
        for client in clients:
            client.stdin.write('go\n')
            client.stdin.flush()
        warm_up = time.monotonic() + warm_up_s
        wait(lambda: time.monotonic() > warm_up, warm_up_s + 10, 'warm-up')
        before, frames_before, start = resource.getrusage(resource.RUSAGE_SELF), counter.frames, time.monotonic()
        end = start + seconds
        wait(lambda: time.monotonic() > end, seconds + 10, 'the measurement')
        frames, elapsed = counter.frames - frames_before, time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for client in clients:
            client.stdin.close()
        pushed = cpu_clients = 0.0
        for client in clients:
            text = client.stdout.read().split()
            client.wait(30)
            if len(text) == 2:
                pushed, cpu_clients = pushed + int(text[0]), cpu_clients + float(text[1])
    for host in hosts:
        host.close_plugin.emit()
    for host in hosts:
        host.thread.wait(10_000)
    per_frame = 1.0 / max(frames, 1)
    system_s = after.ru_stime - before.ru_stime
    cpu_s = after.ru_utime - before.ru_utime + system_s
    switches = after.ru_nvcsw + after.ru_nivcsw - before.ru_nvcsw - before.ru_nivcsw
    return {'instruments': instruments, 'frames_per_s': frames / elapsed, 'cpu_share': cpu_s / elapsed,
            'cpu_ms_per_frame': 1000 * cpu_s * per_frame, 'system_ms_per_frame': 1000 * system_s * per_frame,
            'client_cpu_ms_per_frame': 1000 * cpu_clients / max(pushed, 1),
            'page_faults_per_frame': (after.ru_minflt - before.ru_minflt) * per_frame,
            'context_switches_per_frame': switches * per_frame}


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--instruments', default='1,16', help='the counts compared, the first the reference')
    parser.add_argument('--seconds', type=float, default=10.0, help='measured per case, after the warm-up')
    parser.add_argument('--warm-up', type=float, default=10.0,
                        help='seconds of streaming before the measurement: each connection takes receive buffers '
                             'from the OS until its pool holds what back-pressure lets in flight (about 8 s at 16 '
                             'instruments here); 2 s measures that start')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--one', nargs=3, metavar=('INSTRUMENTS', 'SECONDS', 'WARM_UP'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        app = mkQApp('tcpbridge scale benchmark')  # noqa: F841 (kept alive for the run)
        print(json.dumps(run_case(int(args.one[0]), float(args.one[1]), float(args.one[2]))), flush=True)
        os._exit(0)
    counts = [int(n) for n in args.instruments.split(',')]
    results: Dict[int, List[Dict[str, float]]] = {n: [] for n in counts}
    for _ in range(args.repeats):
        for n in counts:
            results[n].append(run_one(__file__, [str(n), str(args.seconds), str(args.warm_up)], '{"instruments"',
                                      args.seconds + args.warm_up + 240))
    reference = counts[0]
    system = 'tcpbridge DAQ_2DViewer_TCPServer plugins in one process'
    rows = []
    for n in counts:
        case = f'{n} instrument{"s" if n > 1 else ""} streaming 512x512 uint16 frames, after {args.warm_up:g} s'
        rates = [r['frames_per_s'] for r in results[n]]
        ratios = None if n == reference else \
            [r['frames_per_s'] / ref['frames_per_s'] for r, ref in zip(results[n], results[reference])]
        rows.append(row(system, f'{case}: aggregate frames per s', 'Hz', rates, ratios,
                        f'{reference} instrument, same repeat'))
        for key, what, unit in (('cpu_ms_per_frame', 'CPU of the process per frame', 'ms'),
                                ('system_ms_per_frame', 'of which in the kernel', 'ms'),
                                ('context_switches_per_frame', 'context switches per frame', ''),
                                ('page_faults_per_frame', 'page faults per frame', '')):
            rows.append(row(system, f'{case}: {what}', unit, [r[key] for r in results[n]]))
    return {'rows': rows, 'cases': results}


if __name__ == '__main__':
    print(json.dumps(main(), indent=2))
