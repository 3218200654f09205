"""PyMoDAQ 4.4.11's own bridge against ours, the same cases in one run.

PyMoDAQ 4.4: its TCPServer plugins (pymodaq_plugins_mock 4.4.5) and its ``TCPClient`` in a process of
their own, in a virtual environment made (and cached) as the interop tests make it
(``tests/interop/peers.py``); see ``pymodaq44_peer.py``.  Ours: the TCPServer plugins with the demo
instruments in a process of their own (``tcpbridge grabber`` / ``tcpbridge actuator``).  Each side is
timed against a bare loopback socket moving the same bytes in its own process; repeats interleave
the two systems.

Cases: 8 MiB 2048x2048 uint16 frames, 1D (1000 float64) and 0D grabs (each asked for when the previous
one arrived), ``move_abs`` -> ``move_done`` round trips, and the server's resident memory growth over
the 2D frames.

    python benchmarks/bench_pymodaq44.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / 'tests' / 'interop'))
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

if 'pymodaq_utils.config' not in sys.modules:
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

from baseline import bare_transfer, socket_pair  # noqa: E402
from bench_plugins import ChainedGrabs, run_until  # noqa: E402
from peers import peer_python  # noqa: E402
from pymodaq.utils.plugin_testing import make_actuator, make_detector  # noqa: E402
from qtpy.QtCore import QEventLoop, QTimer  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import percentile, row, rss_mib  # noqa: E402

from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer  # noqa: E402
from tcpbridge.commands import ClientProcess  # noqa: E402

#: case -> (grabs or moves per repeat for PyMoDAQ 4.4, for ours); 4.4 takes ~1-2 s per 8 MiB frame
COUNTS = {'2D': (4, 100), '1D': (20, 500), '0D': (20, 500), 'move': (40, 1000)}
DEMO = {'2D': ['--dim', '2D', '--shape', '2048x2048', '--dtype', 'uint16'],
        '1D': ['--dim', '1D', '--shape', '1000'], '0D': ['--dim', '0D']}
NBYTES = {'2D': 2048 * 2048 * 2, '1D': 8000, '0D': 8}


def theirs(python: Path, case: str, count: int) -> Dict[str, object]:
    """One repeat of PyMoDAQ 4.4 (its own process pair)."""
    home = tempfile.mkdtemp(prefix='tcpbridge-bench44-')
    env = {key: value for key, value in os.environ.items() if not key.startswith(('QT_', 'PYTHON'))}
    env.update(QT_QPA_PLATFORM='offscreen', QT_API='pyqt5', HOME=home)
    done = subprocess.run([str(python), str(HERE / 'pymodaq44_peer.py'), 'server', case, str(count), '1'],
                          capture_output=True, text=True, timeout=1200, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{')]
    if not lines:
        raise RuntimeError(f'PyMoDAQ 4.4 {case} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}')
    return json.loads(lines[-1])


def bare_seconds(nbytes: int, count: int) -> float:
    """``count`` transfers of ``nbytes`` over a bare loopback pair (in this process)."""
    a, b = socket_pair()
    try:
        return sum(bare_transfer(a, b, bytes(nbytes)) for _ in range(count))
    finally:
        a.close(), b.close()


class Ours:
    """Our plugin of ``case`` with the demo instrument in a process of its own."""

    def __init__(self, case: str) -> None:
        self.case = case
        if case == 'move':
            self.plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
            args = ['actuator', '--units', 'mm', '--speed', '0']
        else:
            module = importlib.import_module(f'pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_{case}.'
                                             f'daq_{case}viewer_TCPServer')
            self.plugin = make_detector(getattr(module, f'DAQ_{case}Viewer_TCPServer'), port_id=0)
            args = ['grabber', *DEMO[case]]
        self.process = ClientProcess([*args, '--port', str(self.plugin.bridge.address[1])])
        run_until(lambda: self.plugin.client_connected, 30)
        if case == 'move':
            run_until(lambda: self.plugin.bridge.in_control.dialect is not None and self.plugin.axis_unit == 'mm', 10)
            self._loop, self._done = QEventLoop(), []
            self.plugin.move_done_signal.connect(lambda position: (self._done.append(1), self._loop.quit()))
        else:
            self.grabs = ChainedGrabs(self.plugin, {'2D': (2048, 2048), '1D': (1000,), '0D': (1,)}[case])
            self.grabs.seconds(5)  # warm-up

    def each(self, count: int) -> List[float]:
        if self.case != 'move':
            return [self.grabs.seconds(count) / count] * count  # chained: the total is what is timed
        times = []
        guard = QTimer(singleShot=True)
        guard.timeout.connect(self._loop.quit)
        for i in range(count):
            self._done.clear()
            guard.start(5000)
            start = time.perf_counter()
            self.plugin.move_abs(float(i % 100))
            if not self._done:
                self._loop.exec()
            times.append(time.perf_counter() - start)
        guard.stop()
        return times

    def close(self) -> None:
        self.process.stop()
        self.plugin.close()


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive for the run)
    python = peer_python('4.4')
    rows: List[Dict[str, object]] = []
    for case, (count44, count) in COUNTS.items():
        ours = Ours(case)
        rss_start = rss_mib()
        values: Dict[str, List[float]] = {'44': [], 'ours': [], 'ratio44': [], 'ratio': [], 'each44': [], 'each': []}
        rss44 = []
        for _ in range(args.repeats):
            result = theirs(python, case, count44)
            values['each44'] += result['each']
            each = ours.each(count)
            values['each'] += each
            if case != 'move':
                values['44'].append(count44 / result['seconds'][0])
                values['ours'].append(count / sum(each))
                values['ratio44'].append(result['bare_seconds'][0] / result['seconds'][0])
                values['ratio'].append(bare_seconds(NBYTES[case], count) / sum(each))
                rss44.append(result['rss_peak_mib'] - result['rss_baseline_mib'])
        rss_growth = rss_mib() - rss_start
        ours.close()
        if case == 'move':
            name = f'move_abs -> move_done through the TCPServer plugin, client process, {args.repeats} repeats'
            for label, key, n in (('PyMoDAQ 4.4.11 bridge', 'each44', count44), ('tcpbridge (ours)', 'each', count)):
                rows.append(row(label, f'{name} x{n}: p50', 'ms', [1000 * percentile(values[key], 0.5)]))
                rows.append(row(label, f'{name} x{n}: p99', 'ms', [1000 * percentile(values[key], 0.99)]))
            continue
        unit = 'MiB/s' if case == '2D' else 'grabs/s'
        scale = NBYTES[case] / (1 << 20) if case == '2D' else 1.0
        name = {'2D': '8 MiB 2048x2048 uint16 frame', '1D': '1D 1000 float64', '0D': '0D float64'}[case] + \
            f' grab_data -> data, client process, {args.repeats} repeats'
        rows.append(row('PyMoDAQ 4.4.11 bridge', f'{name} x{count44}', unit, [v * scale for v in values['44']],
                        values['ratio44'], 'a bare loopback socket in its process'))
        rows.append(row('tcpbridge (ours)', f'{name} x{count}', unit, [v * scale for v in values['ours']],
                        values['ratio'], 'a bare loopback socket in its process'))
        if case == '2D':
            rows.append(row('PyMoDAQ 4.4.11 bridge', f'server RSS growth over {args.repeats}x{count44} 8 MiB frames',
                            'MiB', [max(rss44)]))
            rows.append(row('tcpbridge (ours)', f'server RSS growth over {args.repeats}x{count} 8 MiB frames', 'MiB',
                            [rss_growth]))
    return {'rows': rows}


if __name__ == '__main__':
    print(json.dumps(main(), indent=2))
