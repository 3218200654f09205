"""The real PyMoDAQ 5 plugins on loopback: an 8 MiB 2D frame from ``grab_data`` to ``dte_signal``
against a bare socket moving the same bytes (same run), and ``move_abs`` -> ``move_done`` round trips.
Clients run in this process (threads) so that the frame is ready at once; Qt runs offscreen.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

if 'pymodaq_utils.config' not in sys.modules:
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

from bench_core import FRAME, bare, socket_pair, summary  # noqa: E402
from pymodaq.utils.plugin_testing import make_actuator, make_detector  # noqa: E402
from qtpy.QtCore import QEventLoop, QTimer  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer  # noqa: E402
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer import DAQ_2DViewer_TCPServer  # noqa: E402
from tcpbridge import ActuatorClient, GrabberClient  # noqa: E402

REPEATS = 20


def wait_signal(signal, action, timeout_s: float = 10.0):
    """Run ``action`` and wait in a Qt event loop (no polling sleep) for the next emission."""
    loop, got = QEventLoop(), []

    def slot(value) -> None:
        got.append(value)
        loop.quit()
    signal.connect(slot)
    timer = QTimer(singleShot=True)
    timer.timeout.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    action()
    if not got:
        loop.exec()
    timer.stop()
    signal.disconnect(slot)
    if not got:
        raise TimeoutError('no signal')
    return got[0]


def wait_until(condition, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError('condition not met')
        QApplication.processEvents()
        time.sleep(0.001)


def grab_benchmark(dialect: str) -> List[float]:
    plugin = make_detector(DAQ_2DViewer_TCPServer, port_id=0)
    client = GrabberClient(port=plugin.bridge.address[1], dialect=dialect, grab=lambda dim: [FRAME])
    thread = client.start()
    wait_until(lambda: plugin.client_connected)
    wait_signal(plugin.dte_signal, plugin.grab_data)  # warm-up (dialect learned)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        dte = wait_signal(plugin.dte_signal, plugin.grab_data)
        times.append(time.perf_counter() - start)
        assert dte[0].shape == FRAME.shape
    client.stop(), thread.join(5), plugin.close()
    return times


def move_benchmark(dialect: str, n: int = 2000) -> List[float]:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
    position = [0.0]
    client = ActuatorClient(port=plugin.bridge.address[1], dialect=dialect, units='mm',
                            get_position=lambda: position[0],
                            move_abs=lambda target: position.__setitem__(0, target))
    thread = client.start()
    wait_until(lambda: plugin.client_connected and plugin.bridge.controller.dialect is not None)
    wait_until(lambda: plugin.axis_unit == 'mm')
    times = []
    for i in range(n):
        target = float(i % 100)
        start = time.perf_counter()
        done = wait_signal(plugin.move_done_signal, lambda t=target: plugin.move_abs(t))
        times.append(time.perf_counter() - start)
        assert done.value() == target
    client.stop(), thread.join(5), plugin.close()
    return times


def main() -> Dict[str, object]:
    from qtpy.QtWidgets import QApplication as App
    App.instance() or App([])
    a, b = socket_pair()
    bare(a, b)
    bare_times = [bare(a, b, fresh=True) for _ in range(REPEATS)]
    a.close(), b.close()
    results: Dict[str, object] = {}
    mib = FRAME.nbytes / (1 << 20)
    bare_speed = mib / statistics.median(bare_times)
    results['bare_MiB_s'] = bare_speed
    for dialect in ('legacy', 'pymodaq4'):
        # the first frames of a process are slower (fresh pages from the OS for every frame until
        # the allocator keeps 8 MiB blocks): measure the steady state
        grab_benchmark(dialect)
        speed = mib / statistics.median(grab_benchmark(dialect))
        results[f'plugin_grab_{dialect}_MiB_s'] = speed
        results[f'plugin_grab_{dialect}_ratio'] = speed / bare_speed
        results[f'plugin_move_{dialect}'] = summary(move_benchmark(dialect))
    return results


if __name__ == '__main__':
    import json
    random.seed(0)
    print(json.dumps(main(), indent=2))
