"""The real PyMoDAQ 5 plugins on loopback (Qt offscreen; clients as threads of this process, or a process).

* 8 MiB frames (2048x2048 uint16) from a fixed-frame GrabberClient to the DAQ_2DViewer_TCPServer's
  ``dte_signal``, snaps (``grab_data``, each frame requested when the previous one arrived, as a scan
  does) and live grabs (PyMoDAQ's Grab: the next frame asked as one arrives), both dialects,
  against a bare loopback socket moving the same bytes into a new array per frame; interleaved
  repeats, the ratio taken within each repeat.  The process's resident memory is read after every
  frame: the row "resident frames" is the largest excess over the level after the warm-up, in frames.
* ``move_abs`` -> ``move_done`` round trips through DAQ_Move_TCPServer and an ActuatorClient thread (its
  instant moves run in its connection thread; for one dialect also handed to its move worker, as moves
  that take time are), or the demo stage in its own process (``tcpbridge actuator --speed 0``), as an
  instrument PC runs it;
  beside them PyMoDAQ's own share of a round trip (an in-process plugin with no network), so that
  what the bridge adds is read apart from what PyMoDAQ's DataActuator and pint cost, and the machine's
  share: the same thread and process wake-ups with nothing else (a bare echo process, see
  :func:`wake_floor`).

    python benchmarks/bench_plugins.py [--frames 100] [--repeats 5] [--moves 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

if 'pymodaq_utils.config' not in sys.modules:
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

import numpy as np  # noqa: E402
from bench_core import FRAME, bare, socket_pair  # noqa: E402
from pymodaq.control_modules.move_utility_classes import DAQ_Move_base, DataActuatorType, comon_parameters_fun  # noqa: E402,E501
from pymodaq.utils.data import DataActuator  # noqa: E402
from pymodaq.utils.plugin_testing import make_actuator, make_detector  # noqa: E402
from qtpy.QtCore import QEventLoop, QObject, Qt, QTimer, Signal  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import percentile, row, rss_mib  # noqa: E402

from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer  # noqa: E402
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer import DAQ_2DViewer_TCPServer  # noqa: E402
from tcpbridge import ActuatorClient, GrabberClient  # noqa: E402
from tcpbridge.commands import ClientProcess  # noqa: E402

DIALECTS = ('legacy', 'pymodaq4')
SYSTEM = 'tcpbridge {}'


def run_until(done: Callable[[], bool], timeout_s: float) -> None:
    """Process Qt events until ``done()`` (checked after each batch of events), or raise."""
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError('condition not met in time')
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)


class ChainedGrabs:
    """Grabs one after the other of data of ``shape``, with the process's RSS read after each:
    snaps (``grab_data``, each asked when the previous one arrived: what a scan does) or a live
    grab (PyMoDAQ's Grab: the plugin asks the next one as soon as one arrives, before handing it on)."""

    def __init__(self, plugin, shape: tuple = FRAME.shape) -> None:
        self.plugin = plugin
        self.shape = shape
        self.peak_rss = 0.0
        self._left = 0
        self._live = False
        self._loop = QEventLoop()
        plugin.dte_signal.connect(self._on_data)

    def _on_data(self, dte) -> None:
        if dte[0].shape != self.shape:
            raise RuntimeError(f'a frame of shape {dte[0].shape}, expected {self.shape}')
        del dte  # as a consumer done with it
        self.peak_rss = max(self.peak_rss, rss_mib())
        self._left -= 1
        if self._left > 0:
            if not self._live:
                self.plugin.grab_data()
        elif self._left == 0:
            self._loop.quit()

    def seconds(self, frames: int, live: bool = False) -> float:
        """Seconds for ``frames`` grabs, from the first request to the last ``dte_signal``."""
        self._left, self._live = frames, live
        guard = QTimer(singleShot=True)
        guard.timeout.connect(self._loop.quit)
        guard.start(120_000)
        start = time.perf_counter()
        self.plugin.grab_data(live=live)
        self._loop.exec()
        elapsed = time.perf_counter() - start
        guard.stop()
        if self._left > 0:
            raise RuntimeError(f'{self._left} of {frames} frames missing after 120 s')
        if live:  # the request in flight at the stop is answered: let that frame come before going on
            self.plugin.stop()
            run_until(lambda: self._left < 0, 10)
        return elapsed


def frames(repeats: int, per_repeat: int) -> List[Dict[str, object]]:
    a, b = socket_pair()
    plugins, clients, grabs = {}, [], {}
    for dialect in DIALECTS:
        plugins[dialect] = plugin = make_detector(DAQ_2DViewer_TCPServer, port_id=0)
        client = GrabberClient(port=plugin.bridge.address[1], dialect=dialect, grab=lambda dim: [FRAME])
        clients.append((client, client.start()))
        run_until(lambda p=plugin: p.client_connected, 10)
        grabs[dialect] = ChainedGrabs(plugin)
        grabs[dialect].seconds(20)  # warm-up: dialect learned, buffers and pages in use
    baseline = rss_mib()
    for grab in grabs.values():
        grab.peak_rss = baseline
    mib = FRAME.nbytes / (1 << 20)
    order = ['bare', *DIALECTS, *(f'{dialect} live' for dialect in DIALECTS)]
    speeds: Dict[str, List[float]] = {kind: [] for kind in order}
    for _ in range(repeats):
        random.shuffle(order)
        for kind in order:
            if kind == 'bare':
                seconds = sum(bare(a, b, fresh=True) for _ in range(per_repeat))
            else:
                dialect, _, mode = kind.partition(' ')
                seconds = grabs[dialect].seconds(per_repeat, live=mode == 'live')
            speeds[kind].append(per_repeat * mib / seconds)
    for client, thread in clients:
        client.stop()
        thread.join(5)
    for plugin in plugins.values():
        plugin.close()
    a.close(), b.close()
    case = f'8 MiB frame (2048x2048 uint16) grab_data -> dte_signal, {repeats}x{per_repeat} frames'
    rows = [row('bare loopback socket', case, 'MiB/s', speeds['bare'])]
    for dialect in DIALECTS:
        for kind, how in ((dialect, 'snaps'), (f'{dialect} live', 'live grab')):
            ratios = [s / r for s, r in zip(speeds[kind], speeds['bare'])]
            rows.append(row(f'{SYSTEM.format(dialect)}, {how}', case, 'MiB/s', speeds[kind], ratios,
                            'bare loopback socket'))
        rows.append(row(SYSTEM.format(dialect), 'resident frames beyond the level after warm-up, at worst',
                        'frames', [(grabs[dialect].peak_rss - baseline) / mib]))
    return rows


class InstantStage(DAQ_Move_base):
    """PyMoDAQ's own share of a move round trip: an actuator plugin of this process whose controller
    is there at once and no network, doing per move what PyMoDAQ's plugin template does (bounds,
    scaling, the target kept, a new DataActuator at the position for ``move_done``)."""

    _controller_units = ''
    _axis_names = ['']
    _epsilons = 0.0
    data_actuator_type = DataActuatorType.DataActuator
    params = comon_parameters_fun(axis_names=_axis_names, epsilon=_epsilons)

    def ini_attributes(self) -> None:
        self.controller = None

    def ini_stage(self, controller=None):
        return 'instant stage', True

    def get_actuator_value(self) -> DataActuator:
        return self._current_value

    def move_abs(self, position: DataActuator) -> None:
        position = self.check_bound(position)
        self.target_value = position
        reached = float(self.set_position_with_scaling(position).value())  # "the controller is there"
        self.move_done(self.get_position_with_scaling(
            DataActuator(self._title, data=[np.array([reached])], units=self.axis_unit)))

    def move_home(self) -> None:
        self.move_abs(DataActuator(self._title, data=[np.array([0.])], units=self.axis_unit))

    def stop_motion(self) -> None:
        self.move_done()

    def commit_settings(self, param) -> None:
        pass

    def close(self) -> None:
        pass


def round_trips(kind: str, dialect: str, units: str, n: int) -> Tuple[List[float], float]:
    """Seconds of each of ``n`` move_abs -> move_done round trips through an actuator plugin, the axis
    in ``units``, and the CPU seconds this (the plugin's) thread used per round trip.  Targets are
    DataActuators made beforehand, as DAQ_Move hands them to its plugin.

    ``kind``: 'thread' (DAQ_Move_TCPServer and an ActuatorClient thread of this process, sharing its
    GIL; its moves return at once and it says so, ``instant_moves=True``: they run in its connection
    thread), 'worker' (the same client without saying so: each move is handed to its move worker
    thread), 'process' (DAQ_Move_TCPServer and the demo stage as a user runs it, in its own process:
    ``tcpbridge actuator --speed 0`` moves at once, as an instrument PC's client would) or 'instant'
    (:class:`InstantStage`: PyMoDAQ's share of the round trip; ``dialect`` is then unused)."""
    stop: Callable[[], None]
    if kind == 'instant':
        plugin = make_actuator(InstantStage)
        plugin.axis_unit = units
        stop = plugin.close
    else:
        plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
        port = plugin.bridge.address[1]
        if kind == 'process':
            client = ClientProcess(['actuator', '--port', str(port), '--dialect', dialect, '--units', units,
                                    '--speed', '0'])
            stop = client.stop
        else:
            position = [0.0]
            thread_client = ActuatorClient(port=port, dialect=dialect, units=units, get_position=lambda: position[0],
                                           move_abs=lambda target: position.__setitem__(0, target),
                                           instant_moves=kind == 'thread')
            thread = thread_client.start()

            def stop() -> None:
                thread_client.stop()
                thread.join(5)
        run_until(lambda: plugin.client_connected and plugin.bridge.in_control.dialect is not None
                  and plugin.axis_unit == units, 30)
    targets = [DataActuator('target', data=[np.array([float(i % 100)])], units=units) for i in range(n)]
    loop, done = QEventLoop(), []

    def on_move_done(position) -> None:
        done.append(position)
        loop.quit()
    plugin.move_done_signal.connect(on_move_done)
    try:
        times, cpu = timed_rounds(n, lambda i: plugin.move_abs(targets[i]), lambda i: len(done) > i, loop,
                                  'round trip')
    finally:
        stop()
        plugin.close()
    wrong = next((i for i, position in enumerate(done) if position.value() != i % 100), None)
    if wrong is not None:
        raise RuntimeError(f'round trip {wrong}: move_done at {done[wrong].value()}, not at {wrong % 100}')
    return times, cpu


def timed_rounds(n: int, request: Callable[[int], None], answered: Callable[[int], bool], loop: QEventLoop,
                 what: str) -> Tuple[List[float], float]:
    """Seconds of each of ``n`` request/reply rounds, as a plugin's thread lives them: ``request(i)``,
    then Qt's ``loop`` (its reply's slot quits it) until ``answered(i)``; and this thread's CPU
    seconds per round.  Raises RuntimeError if a reply takes over 5 s."""
    guard = QTimer(singleShot=True)
    guard.timeout.connect(loop.quit)
    times = []
    cpu = time.thread_time()
    try:
        for i in range(n):
            guard.start(5000)
            start = time.perf_counter()
            request(i)
            if not answered(i):
                loop.exec()
            times.append(time.perf_counter() - start)
            if not answered(i):
                raise RuntimeError(f'{what} {i}: no reply within 5 s')
    finally:
        guard.stop()
    return times, (time.thread_time() - cpu) / n


#: the echo process of :func:`wake_floor`: sends back what it receives, as it comes
ECHO = r'''
import socket, sys
peer = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while data := peer.recv(65536):
    peer.sendall(data)
'''


class _Relay(QObject):
    """Carries the reader thread's news to the main thread (a queued connection, as the plugins')."""

    received = Signal()


def wake_floor(n: int, nbytes: int = 32) -> Tuple[List[float], float]:
    """Seconds of each of ``n`` request/reply round trips that wake the same threads and processes as
    a round trip through DAQ_Move_TCPServer and a client process, with nothing else done: the main
    thread sends ``nbytes`` (a legacy ``move_abs``) on a loopback TCP socket, an echo process sends
    them back, a reader thread waiting in a selector (as the server engine) emits a Qt signal queued
    to the main thread, whose event loop was waiting for it.  No protocol, no PyMoDAQ: what this
    machine's scheduler costs.  Also the main thread's CPU seconds per round trip."""
    listener = socket.create_server(('127.0.0.1', 0))
    echo = subprocess.Popen([sys.executable, '-c', ECHO, str(listener.getsockname()[1])])
    listener.settimeout(30)
    conn, _ = listener.accept()
    listener.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    relay, loop, replies = _Relay(), QEventLoop(), []

    def on_received() -> None:
        replies.append(True)
        loop.quit()
    relay.received.connect(on_received, Qt.QueuedConnection)

    def read() -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(conn, selectors.EVENT_READ)
            pending = 0
            while selector.select(timeout=10):
                data = conn.recv(65536)
                if not data:
                    return
                pending += len(data)
                while pending >= nbytes:
                    pending -= nbytes
                    relay.received.emit()
    reader = threading.Thread(target=read, name='wake-floor-reader')
    reader.start()
    request = b'x' * nbytes
    try:
        return timed_rounds(n, lambda i: conn.sendall(request), lambda i: len(replies) > i, loop, 'echo round trip')
    finally:
        conn.shutdown(socket.SHUT_WR)  # the echo process exits at the end of the stream, then the reader
        echo.wait(10)
        reader.join(10)
        conn.close()


#: (kind, dialect) of the round trip cases, see :func:`round_trips`
MOVE_KINDS = [('thread', dialect) for dialect in DIALECTS] + [('worker', 'legacy'), ('process', 'legacy'),
                                                               ('instant', '')]
#: how each kind's client runs, for the system column
CLIENTS = {'thread': 'ActuatorClient thread, instant moves', 'worker': 'ActuatorClient thread, moves in its worker',
           'process': 'demo stage process'}
#: the system column of :func:`wake_floor`
FLOOR = 'bare echo process: the same wake-ups, no protocol, no PyMoDAQ'


def moves(repeats: int, n: int) -> List[Dict[str, object]]:
    """Round trips with the axis in mm (pint parses a prefixed unit anew each time PyMoDAQ builds a
    DataActuator: ~0.12 ms each, several per move) and without units (pint's cached path); each
    bridge case's p50 also as what it adds to PyMoDAQ's own share (:class:`InstantStage`),
    per repeat; and, once per repeat, the machine's wake-up floor (:func:`wake_floor`)."""
    rows = []
    kinds = [(kind, dialect, units) for units in ('mm', '') for kind, dialect in MOVE_KINDS] + [('floor', '', '')]
    p50: Dict[tuple, List[float]] = {k: [] for k in kinds}
    p99: Dict[tuple, List[float]] = {k: [] for k in kinds}
    rate: Dict[tuple, List[float]] = {k: [] for k in kinds}
    cpu: Dict[tuple, List[float]] = {k: [] for k in kinds}
    for _ in range(repeats):
        for kind in random.sample(kinds, len(kinds)):
            times, cpu_seconds = wake_floor(n) if kind[0] == 'floor' else round_trips(*kind, n)
            cpu[kind].append(1000 * cpu_seconds)
            p50[kind].append(1000 * percentile(times, 0.5))
            p99[kind].append(1000 * percentile(times, 0.99))
            rate[kind].append(len(times) / sum(times))
    for kind in kinds:
        how, dialect, units = kind
        axis = f'in {units}' if units else 'without units'
        case = f'move_abs -> move_done through an actuator plugin, axis {axis}, {repeats}x{n} round trips'
        if how == 'floor':
            system, case = FLOOR, f'request -> reply, main thread -> echo process -> reader thread -> main thread, ' \
                                  f'{repeats}x{n} round trips'
        elif how == 'instant':
            system = 'PyMoDAQ alone: an in-process plugin, no network (InstantStage)'
        else:
            system = f'{SYSTEM.format(dialect)}, DAQ_Move_TCPServer + {CLIENTS[how]}'
        rows.append(row(system, f'{case}: p50', 'ms', p50[kind]))
        if how not in ('instant', 'floor'):
            pymodaq_alone = p50[('instant', '', units)]
            rows.append(row(system, f'{case}: p50 added to PyMoDAQ alone', 'ms',
                            [ours - alone for ours, alone in zip(p50[kind], pymodaq_alone)]))
        if how == 'process':
            wakes = p50[('floor', '', '')]
            rows.append(row(system, f'{case}: p50 added to PyMoDAQ alone and the wake-up floor', 'ms',
                            [ours - alone - woken for ours, alone, woken in zip(p50[kind], pymodaq_alone, wakes)]))
        rows.append(row(system, f'{case}: p99', 'ms', p99[kind]))
        rows.append(row(system, f'{case}: rate', 'round trips/s', rate[kind]))
        who = "the main thread's" if how == 'floor' else "the plugin thread's"
        rows.append(row(system, f'{case}: {who} CPU time per round trip', 'ms', cpu[kind]))
    return rows


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=100, help='frames per repeat (default 100)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--moves', type=int, default=1000, help='round trips per repeat and case (default 1000)')
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    return {'rows': frames(args.repeats, args.frames) + moves(args.repeats, args.moves)}


if __name__ == '__main__':
    random.seed(0)
    print(json.dumps(main(), indent=2))
