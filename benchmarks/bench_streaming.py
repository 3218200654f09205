"""Streaming without lag (PyMoDAQ#284): a client process pushes data unsolicited into the real
DAQ_Viewer (PyMoDAQ's own window, offscreen, its viewer displaying) through the TCPServer plugin.

Cases: 0D at 1 kHz, 1D (1000 float64) at 500 Hz, 2D 512x512 uint16 at 100 Hz, each for ``--seconds``.
The client writes its send time (CLOCK_MONOTONIC, shared by the processes of one machine) into the
data; latencies are measured

* to the plugin's ``dte_signal`` (the plugin's thread: what scans and savers receive), and
* to the main (GUI) thread, through a queued connection beside DAQ_Viewer's own: if the display
  falls behind, this latency grows without bound.

Reported per case: sent / received counts, p50 and p99 latency at both points, the p99 of the last
fifth of the run against the first (accumulation shows as a growing ratio), the viewer's display
updates, and the growth of the process's resident memory.

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
from qtpy.QtCore import QObject, Qt, Signal  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import percentile, row, rss_mib  # noqa: E402

from pymodaq_plugins_tcpbridge.viewer import DAQ_xDViewer_TCPServer  # noqa: E402

CASES = {'0D': (1000.0, (1,), 'float64'), '1D': (500.0, (1000,), 'float64'), '2D': (100.0, (512, 512), 'uint16')}

#: the pushing client (a separate process, as the instrument PC): send time in the first 8 bytes
CLIENT = r'''
import sys, time, numpy as np
from tcpbridge import GrabberClient
port, rate, seconds, shape, dtype = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), \
    tuple(int(n) for n in sys.argv[4].split('x')), sys.argv[5]
client = GrabberClient(port=port, dialect='pymodaq4', grab=lambda dim: [np.zeros(shape, dtype)])
thread = client.start()
if not client.connected.wait(20):
    sys.exit('not connected')
time.sleep(1.0)  # the plugin shows the client's settings first
frames = [np.random.default_rng(i).random(shape).astype(dtype) for i in range(8)]
period, sent = 1.0 / rate, 0
start = deadline = time.monotonic()
while time.monotonic() - start < seconds:
    frame = frames[sent % len(frames)].copy()
    frame.reshape(-1).view(np.uint8)[:8] = np.frombuffer(np.float64(time.monotonic()).tobytes(), np.uint8)
    client.push([frame])
    sent += 1
    deadline += period
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(sent, flush=True)
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
        self.latencies: List[float] = []
        self.queued.connect(self._on_data, Qt.ConnectionType.QueuedConnection)

    def _on_data(self, sent: float) -> None:
        self.latencies.append(time.monotonic() - sent)


def run_case(dim: str, seconds: float) -> Dict[str, object]:
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

    def in_plugin_thread(dte) -> None:
        sent = sent_at(dte)
        plugin_latencies.append(time.monotonic() - sent)
        probe.queued.emit(sent)
    plugin.dte_signal.connect(in_plugin_thread, Qt.ConnectionType.DirectConnection)
    viewer.grab_done_signal.connect(lambda dte: saved.__setitem__(0, saved[0] + 1))
    displayed = [0]
    for data_viewer in viewer.viewers:
        data_viewer.data_to_export_signal.connect(lambda *args: displayed.__setitem__(0, displayed[0] + 1))
    rss_start = rss_mib()
    client = subprocess.Popen([sys.executable, '-c', CLIENT, str(port), str(rate), str(seconds),
                               'x'.join(map(str, shape)), dtype], stdout=subprocess.PIPE, text=True)
    rss_peak = rss_start
    end = time.monotonic() + seconds + 30
    while client.poll() is None and time.monotonic() < end:
        QApplication.processEvents()
        rss_peak = max(rss_peak, rss_mib())
        time.sleep(0.001)
    sent = int((client.communicate(timeout=10)[0] or '0').split()[0])
    wait(lambda: len(probe.latencies) >= len(plugin_latencies), 10)
    viewer.quit_fun()
    QApplication.processEvents()

    def ms(values: List[float], fraction: float) -> float:
        return 1000 * percentile(values, fraction)
    fifth = max(1, len(probe.latencies) // 5)
    return {'dim': dim, 'rate_hz': rate, 'shape': shape, 'dtype': dtype, 'sent': sent,
            'received_plugin': len(plugin_latencies), 'received_main_thread': len(probe.latencies),
            'viewer_grab_done': saved[0], 'display_updates': displayed[0],
            'plugin_p50_ms': ms(plugin_latencies, 0.5), 'plugin_p99_ms': ms(plugin_latencies, 0.99),
            'main_p50_ms': ms(probe.latencies, 0.5), 'main_p99_ms': ms(probe.latencies, 0.99),
            'main_p99_first_fifth_ms': ms(probe.latencies[:fifth], 0.99),
            'main_p99_last_fifth_ms': ms(probe.latencies[-fifth:], 0.99),
            'rss_growth_mib': rss_peak - rss_start}


def wait(condition, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError('condition not met in time')
        QApplication.processEvents()
        time.sleep(0.005)


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--cases', default='0D,1D,2D')
    args = parser.parse_args()
    app = mkQApp('tcpbridge streaming benchmark')  # noqa: F841 (kept alive for the run; PyMoDAQ's theme)
    cases = [run_case(dim, args.seconds) for dim in args.cases.split(',')]
    rows = []
    for case in cases:
        name = f'{case["dim"]} {"x".join(map(str, case["shape"]))} {case["dtype"]} pushed at {case["rate_hz"]:g} Hz ' \
               f'into DAQ_Viewer (displaying), {args.seconds:g} s'
        system = 'tcpbridge pymodaq4'
        rows.append(row(system, f'{name}: latency to dte_signal p99', 'ms', [case['plugin_p99_ms']]))
        rows.append(row(system, f'{name}: latency to the GUI thread p99 (last fifth of the run)', 'ms',
                        [case['main_p99_last_fifth_ms']]))
        rows.append(row(system, f'{name}: received / sent', 'ratio', [case['received_plugin'] / case['sent']]))
    return {'rows': rows, 'cases': cases}


if __name__ == '__main__':
    print(json.dumps(main(), indent=2))
