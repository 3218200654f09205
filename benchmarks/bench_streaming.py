"""Streaming without lag (PyMoDAQ#284): a client process pushes data unsolicited into the real
DAQ_Viewer (PyMoDAQ's own window, offscreen, its viewer displaying) through the TCPServer plugin.

Cases: 0D at 1 kHz, 1D (1000 float64) at 500 Hz, 2D 512x512 uint16 at 100 Hz, each for ``--seconds``,
with the DAQ_Viewer grabbing (live: what PyMoDAQ saves; its display refreshed every 50 ms, its
default) and, for ``--idle-seconds``, not grabbing (the instrument streams on its own: shown only).
The client writes its send time (CLOCK_MONOTONIC, shared by the processes of one machine) into the
data; latencies are measured

* to the plugin's ``dte_signal`` (the plugin's thread: what scans and savers receive), and
* to the main (GUI) thread, through a queued connection beside DAQ_Viewer's own: if the display
  falls behind, this latency grows without bound.

Reported per case: sent / received counts, p50 and p99 latency at both points, the p99 of the last
fifth of the run against the first (accumulation shows as a growing ratio), the viewer's display
updates, and the growth of the process's resident memory.

Side by side, the same DAQ_Viewer fed *without network* (mode ``local``): a thread of the process
emits the plugin's ``dte_signal`` at the same rate, as a local instrument plugin would; what PyMoDAQ's
viewer absorbs then is the ceiling of any bridge.  The bridge's back-pressure (docs/guide/limits.rst)
slows a client that outpaces the viewer: "sent" is then below rate x seconds.

    python benchmarks/bench_streaming.py [--seconds 60]
"""
from __future__ import annotations

import argparse
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
from pymodaq.utils.gui_utils.loader_utils import create_load_daq_viewer  # noqa: E402
from pymodaq_gui.qt_utils import mkQApp  # noqa: E402
from qtpy.QtCore import QEventLoop, QObject, Qt, QTimer, Signal  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import percentile, row, rss_mib, run_one  # noqa: E402

from pymodaq_plugins_tcpbridge.acyclic import detach_slicers  # noqa: E402
from pymodaq_plugins_tcpbridge.convert import legacy_to_dte  # noqa: E402
from pymodaq_plugins_tcpbridge.viewer import DAQ_xDViewer_TCPServer  # noqa: E402

CASES = {'0D': (1000.0, (1,), 'float64'), '1D': (500.0, (1000,), 'float64'), '2D': (100.0, (512, 512), 'uint16')}

#: the pushing client (a separate process, as the instrument PC): send time in the first 8 bytes
CLIENT = r'''
import sys, threading, time, numpy as np
from tcpbridge import GrabberClient
port, rate, seconds, shape, dtype = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), \
    tuple(int(n) for n in sys.argv[4].split('x')), sys.argv[5]
def stamped(frame):
    frame = frame.copy()
    frame.reshape(-1).view(np.uint8)[:8] = np.frombuffer(np.float64(time.monotonic()).tobytes(), np.uint8)
    return frame
client = GrabberClient(port=port, dialect='pymodaq4', grab=lambda dim: [stamped(np.zeros(shape, dtype))])
thread = client.start()
if not client.connected.wait(20):
    sys.exit('not connected')
go = []  # the benchmark's go (its DAQ_Viewer grabbing, or not): the timed part starts
threading.Thread(target=lambda: go.append(sys.stdin.readline() and time.monotonic()), daemon=True).start()
frames = [np.random.default_rng(i).random(shape).astype(dtype) for i in range(8)]
period, sent, index = 1.0 / rate, 0, 0
deadline = time.monotonic()
while not go or time.monotonic() - go[0] < seconds:
    client.push([stamped(frames[index % len(frames)])])
    index += 1
    sent += 1 if go else 0
    deadline += period
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(sent, go[0], time.monotonic(), flush=True)  # pushed, from, until
time.sleep(2.0)
client.stop()
thread.join(5)
'''


def sent_at(dte) -> float:
    """The client's send time written in the first 8 bytes of the first channel."""
    array = np.ascontiguousarray(dte[0][0])
    return float(array.reshape(-1).view(np.uint8)[:8].view(np.float64)[0])


class MainThreadProbe(QObject):
    """Receives each dataset through a queued connection, as DAQ_Viewer's display does."""

    queued = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.records: List[tuple] = []  # (send time, latency) per data set
        self.queued.connect(self._on_data, Qt.ConnectionType.QueuedConnection)

    def _on_data(self, sent: float) -> None:
        self.records.append((sent, time.monotonic() - sent))


class LocalSource:
    """Emits ``dte_signal`` of ``plugin`` at ``rate`` from a thread of this process, data built as the
    plugin builds them (a DataToExport whose first 8 bytes are the send time), no network."""

    def __init__(self, plugin, rate: float, shape: tuple, dtype: str, seconds: float) -> None:
        self.plugin, self.rate, self.seconds = plugin, rate, seconds
        self.frames = [np.random.default_rng(i).random(shape).astype(dtype) for i in range(8)]
        self.sent, self.go, self.until = 0, 0.0, 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        period = 1.0 / self.rate
        self.go = deadline = time.monotonic()
        while time.monotonic() - self.go < self.seconds:
            frame = self.frames[self.sent % len(self.frames)].copy()
            frame.reshape(-1).view(np.uint8)[:8] = np.frombuffer(np.float64(time.monotonic()).tobytes(), np.uint8)
            dte = legacy_to_dte([frame], self.plugin._title)
            detach_slicers(dte)
            self.plugin.dte_signal.emit(dte)
            self.sent += 1
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.until = time.monotonic()


def run_case(dim: str, seconds: float, mode: str) -> Dict[str, object]:
    live = mode != 'idle'
    rate, shape, dtype = CASES[dim]
    _, viewer = create_load_daq_viewer(f'stream {dim}')
    viewer.daq_type = f'DAQ{dim}'
    viewer.detector = 'TCPServer'
    viewer.settings.child('detector_settings', 'port_id').setValue(0)
    inited: List[bool] = []
    viewer.init_signal.connect(inited.append)
    viewer.init_hardware_ui(True)
    wait(lambda: inited, 30)
    plugin = next(o for o in gc.get_objects() if isinstance(o, DAQ_xDViewer_TCPServer) and o.bridge is not None)
    port = plugin.bridge.address[1]
    plugin_latencies: List[float] = []
    probe = MainThreadProbe()
    saved = [0]

    sent_times: List[float] = []

    def in_plugin_thread(dte) -> None:
        sent = sent_at(dte)
        sent_times.append(sent)
        plugin_latencies.append(time.monotonic() - sent)
        probe.queued.emit(sent)
    plugin.dte_signal.connect(in_plugin_thread, Qt.ConnectionType.DirectConnection)
    viewer.grab_done_signal.connect(lambda dte: saved.__setitem__(0, saved[0] + 1))
    displayed = [0]
    for data_viewer in viewer.viewers:
        data_viewer.data_to_export_signal.connect(lambda *args: displayed.__setitem__(0, displayed[0] + 1))
    if mode == 'local':
        source = LocalSource(plugin, rate, shape, dtype, seconds)
        viewer.grab()
        wait(lambda: viewer.grab_state, 10)
        running = source.thread.is_alive
    else:
        client = subprocess.Popen([sys.executable, '-c', CLIENT, str(port), str(rate), str(seconds),
                                   'x'.join(map(str, shape)), dtype], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        wait(lambda: plugin.client_connected, 30)
        if live:
            viewer.grab()
            wait(lambda: plugin._live, 10)
        running = lambda: client.poll() is None  # noqa: E731
    rss_start = rss_mib()
    if mode == 'local':
        source.thread.start()
    else:
        client.stdin.write('go\n')
        client.stdin.flush()
    rss_peak = rss_start
    end = time.monotonic() + seconds + 30
    heartbeat = QTimer()  # the GUI thread waits for events as in app.exec(), checking the source every 50 ms
    heartbeat.start(50)
    while running() and time.monotonic() < end:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        rss_peak = max(rss_peak, rss_mib())
    heartbeat.stop()
    if mode == 'local':
        sent, go, until = source.sent, source.go, source.until
    else:
        sent_text, go_text, until_text = (client.communicate(timeout=10)[0] or '0 0 0').split()[:3]
        sent, go, until = int(sent_text), float(go_text), float(until_text)
    try:  # what is still queued for the GUI thread 10 s after the end: the lag left
        wait(lambda: len(probe.records) >= len(sent_times), 10)
    except TimeoutError:
        pass
    # what was pushed after the go (a live grab then asks a client that stopped pushing: not counted)
    timed = [i for i, t in enumerate(list(sent_times)) if go <= t <= until]

    def ms(values: List[float], fraction: float) -> float:
        return 1000 * percentile(values, fraction)
    in_plugin = [plugin_latencies[i] for i in timed]
    in_gui = [latency for sent, latency in probe.records if go <= sent <= until]
    fifth = max(1, len(in_gui) // 5)
    return {'dim': dim, 'mode': mode, 'rate_hz': rate, 'shape': shape, 'dtype': dtype, 'seconds': until - go,
            'sent': sent, 'received_plugin': len(in_plugin), 'received_main_thread': len(in_gui),
            'viewer_grab_done': saved[0], 'display_updates': displayed[0],
            'plugin_p50_ms': ms(in_plugin, 0.5), 'plugin_p99_ms': ms(in_plugin, 0.99),
            'gui_backlog_10s_after': len(sent_times) - len(probe.records),
            'main_p50_ms': ms(in_gui, 0.5), 'main_p99_ms': ms(in_gui, 0.99),
            'main_p99_first_fifth_ms': ms(in_gui[:fifth], 0.99),
            'main_p99_last_fifth_ms': ms(in_gui[-fifth:], 0.99),
            'gui_rate_hz': sum(1 for sent, latency in probe.records if go <= sent and sent + latency <= until)
            / max(until - go, 1e-9),
            'rss_growth_mib': rss_peak - rss_start}


def wait(condition, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError('condition not met in time')
        QApplication.processEvents()
        time.sleep(0.005)


def one_case(dim: str, mode: str, seconds: float) -> Dict[str, object]:
    """A case in a process of its own (printed as a JSON line, then ended at once: a viewer still
    holding a backlog would take minutes to close)."""
    return run_one(__file__, [dim, mode, str(seconds)], '{"dim"', seconds + 180)


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='per case, the DAQ_Viewer grabbing')
    parser.add_argument('--idle-seconds', type=float, default=20.0, help='per case, not grabbing (0: skip)')
    parser.add_argument('--cases', default='0D,1D,2D')
    parser.add_argument('--one', nargs=3, metavar=('DIM', 'MODE', 'SECONDS'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        app = mkQApp('tcpbridge streaming benchmark')  # noqa: F841 (kept alive for the run; PyMoDAQ's theme)
        print(json.dumps(run_case(args.one[0], float(args.one[2]), args.one[1])), flush=True)
        os._exit(0)
    dims = args.cases.split(',')
    live = {dim: {mode: one_case(dim, mode, args.seconds) for mode in ('local', 'live')} for dim in dims}
    idle = [one_case(dim, 'idle', args.idle_seconds) for dim in dims] if args.idle_seconds > 0 else []
    rows = []
    local, bridge = 'PyMoDAQ DAQ_Viewer fed in-process (no network)', 'tcpbridge pymodaq4'

    def name(case: Dict[str, object], seconds: float, how: str) -> str:
        return f'{case["dim"]} {"x".join(map(str, case["shape"]))} {case["dtype"]} at {case["rate_hz"]:g} Hz ' \
               f'into DAQ_Viewer ({how}, displaying), {seconds:g} s'
    for dim in dims:
        ours, ceiling = live[dim]['live'], live[dim]['local']
        case = name(ours, args.seconds, 'live grab')
        rows.append(row(local, f'{case}: data sets through the GUI thread per s', 'Hz', [ceiling['gui_rate_hz']]))
        rows.append(row(bridge, f'{case}: data sets through the GUI thread per s', 'Hz', [ours['gui_rate_hz']],
                        [ours['gui_rate_hz'] / max(ceiling['gui_rate_hz'], 1e-9)], local))
        for system, result in ((local, ceiling), (bridge, ours)):
            rows.append(row(system, f'{case}: latency to the GUI thread p99, last fifth of the run', 'ms',
                            [result['main_p99_last_fifth_ms']]))
            rows.append(row(system, f'{case}: resident memory growth', 'MiB', [result['rss_growth_mib']]))
        rows.append(row(bridge, f'{case}: latency to dte_signal p99', 'ms', [ours['plugin_p99_ms']]))
        rows.append(row(bridge, f'{case}: sent by the client / rate x duration (back-pressure)', 'ratio',
                        [ours['sent'] / (ours['rate_hz'] * ours['seconds'])]))
        rows.append(row(bridge, f'{case}: emitted within 10 s of the end / sent', 'ratio',
                        [ours['received_plugin'] / ours['sent']]))
    for result in idle:
        case = name(result, args.idle_seconds, 'idle')
        rows.append(row(bridge, f'{case}: latency to dte_signal p99', 'ms', [result['plugin_p99_ms']]))
        rows.append(row(bridge, f'{case}: latency to the GUI thread p99, last fifth of the run', 'ms',
                        [result['main_p99_last_fifth_ms']]))
        rows.append(row(bridge, f'{case}: shown (newest wins) / sent', 'ratio',
                        [result['received_plugin'] / result['sent']]))
    return {'rows': rows, 'cases': [*(c for pair in live.values() for c in pair.values()), *idle]}

if __name__ == '__main__':
    print(json.dumps(main(), indent=2))
