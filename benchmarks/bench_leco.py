"""LECO against the bridge (issue 30): moves and 2D frames through three paths, each driven from this
process by a real PyMoDAQ 5 module, as a dashboard drives them:

* ``LECO``: PyMoDAQ's own remote control. A Mock stage / camera in ``tcpbridge module ... --leco-name``
  (PyMoDAQ's actor mode) on a pyleco Coordinator process; here a DAQ_Move / DAQ_Viewer with PyMoDAQ's
  ``LECODirector`` plugin;
* ``bridge``: the same ``tcpbridge module`` processes (one instrument, two ways in), bridged to a
  DAQ_Move / DAQ_Viewer with our TCPServer plugin here;
* ``bridge client via serve + LECO``: the demo stage / camera (bridge clients, as a LabVIEW program)
  connected to ``tcpbridge serve ... --leco-name``; here a LECODirector module;
* ``bridge client / TCPServer plugin``: the same demo clients connected to TCPServer plugins here
  (the bridge alone, no PyMoDAQ on the instrument side).

A move is ``move_abs`` to ``move_done`` (targets alternating 0 and 1), a frame a ``snap`` to
``grab_done`` (2048x2048: the Mock camera's float64, 32 MiB, which it computes for each snap; the demo camera's
uint16, 8 MiB, a pattern).  Each
repeat measures every path in turn, and a bare loopback socket moving the same bytes: frame rates are
also given as a ratio to it, taken within the repeat.

    python benchmarks/bench_leco.py [--repeats 3] [--moves 20] [--frames 5]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

if 'pymodaq_utils.config' not in sys.modules:
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

from baseline import bare_transfer, socket_pair  # noqa: E402
from pymodaq_gui.qt_utils import mkQApp  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import row  # noqa: E402

from tcpbridge.commands import ClientProcess  # noqa: E402

SIDE = 2048
PATHS = ('LECO (PyMoDAQ actor / LECODirector)', 'bridge (tcpbridge module / TCPServer plugin)',
         'bridge client via tcpbridge serve + LECO', 'bridge client / TCPServer plugin')
LISTENING = re.compile(r'with the TCPServer plugin: listening on [\d.]+:(\d+)')


def wait(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out waiting for {what}')
        QApplication.processEvents()
        time.sleep(0.002)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def module(kind: str, plugin: str, daq_type: str = 'DAQ2D', **settings: Any) -> Any:
    """A DAQ_Move / DAQ_Viewer (no window) with ``plugin``, its hardware settings set, initialised."""
    if kind == 'move':
        from pymodaq.control_modules.daq_move import DAQ_Move
        control = DAQ_Move(None, title=f'{plugin} {len(settings)}')
        control.actuator = plugin
    else:
        from pymodaq.control_modules.daq_viewer import DAQ_Viewer
        control = DAQ_Viewer(None, title=f'{plugin} {len(settings)}', daq_type=daq_type)
        control.detector = plugin
    for name, value in settings.items():
        control.settings.child(control._hw_settings_name, name).setValue(value)
    inits: List[bool] = []
    control.init_signal.connect(inits.append)
    control.init_hardware(True)
    wait(lambda: inits, 60, f'{plugin} to initialise')
    assert inits[0], f'{plugin} did not initialise'
    return control


def director(kind: str, actor: str, coordinator: int) -> Any:
    return module(kind, 'LECODirector', actor_name=actor, host='127.0.0.1', port=coordinator)


def answers(actor: str, coordinator: int) -> bool:
    from pyleco.directors.director import Director
    try:
        with Director(actor=actor, port=coordinator, timeout=1) as ping:
            ping.ask_rpc('pong')
            return True
    except Exception:  # not signed in yet
        return False


def served_port(log: Path) -> int:
    match = LISTENING.search(log.read_text()) if log.exists() else None
    return int(match.group(1)) if match else 0


def time_moves(control: Any, count: int) -> float:
    """Median ms from ``move_abs`` to the ``move_done`` at its target over ``count`` moves (a stage
    reached two ways also reports the moves asked the other way: those are not this move's end)."""
    done: list = []
    control.move_done_signal.connect(done.append)
    times = []
    for index in range(count):
        before, target = len(done), float(index % 2)
        start = time.perf_counter()
        control.move_abs(target)
        wait(lambda before=before, target=target: any(abs(d.value() - target) < 0.01 for d in done[before:]), 30,
             'move_done at the target')
        times.append((time.perf_counter() - start) * 1000)
    control.move_done_signal.disconnect(done.append)
    return statistics.median(times)


def time_frames(control: Any, count: int) -> Dict[str, float]:
    """Frames per second and MiB/s of ``count`` snaps (each asked when the previous arrived), and the
    bytes of one frame."""
    grabbed: list = []
    control.grab_done_signal.connect(grabbed.append)
    control.snap()
    wait(lambda: grabbed, 60, 'the first snap')  # warm-up: buffers, viewers, the first frame
    start = time.perf_counter()
    for _ in range(count):
        before = len(grabbed)
        control.snap()
        wait(lambda before=before: len(grabbed) > before, 60, 'a snap')
    seconds = time.perf_counter() - start
    control.grab_done_signal.disconnect(grabbed.append)
    data = grabbed[-1].get_data_from_dim('Data2D')[0].data[0]
    assert data.shape == (SIDE, SIDE), data.shape
    return {'fps': count / seconds, 'mib_s': count * data.nbytes / seconds / (1 << 20), 'nbytes': data.nbytes}


class Setup:
    """Every process and module of the three paths, started once."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: List[ClientProcess] = []
        self.modules: List[Any] = []
        self.coordinator_port = free_port()
        self.coordinator = subprocess.Popen([sys.executable, '-m', 'pyleco.coordinators.coordinator', '--port',
                                             str(self.coordinator_port)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        leco = ['--coordinator', f'127.0.0.1:{self.coordinator_port}', '--pymodaq-home', str(work / 'home')]
        # one Mock stage and one Mock camera, each reached by the bridge and by LECO
        self.stage = self.add(module('move', 'TCPServer', port_id=0))
        self.camera = self.add(module('viewer', 'TCPServer', port_id=0))
        self.start('module', 'move', 'Mock', '--axis', 'Y', '--set', 'tau=1', '--port', self.port_of(self.stage),
                   '--leco-name', 'leco_stage', *leco, log='module_stage.log')
        self.start('module', 'viewer', 'DAQ2D/Mock', '--set', f'Nx={SIDE}', '--set', f'Ny={SIDE}', '--port',
                   self.port_of(self.camera), '--leco-name', 'leco_camera', *leco, log='module_camera.log')
        # bridge clients (the demo stage and camera) behind tcpbridge serve, LECO actors
        self.start('serve', 'move', '--port', '0', '--leco-name', 'served_stage', *leco, log='serve_stage.log')
        self.start('serve', 'viewer', 'DAQ2D', '--port', '0', '--leco-name', 'served_camera', *leco,
                   log='serve_camera.log')
        wait(lambda: served_port(work / 'serve_stage.log') and served_port(work / 'serve_camera.log'), 120,
             'tcpbridge serve to listen')
        self.start('actuator', '--port', str(served_port(work / 'serve_stage.log')), '--speed', '0',
                   log='demo_stage.log')
        demo_camera = ['--dim', '2D', '--shape', f'{SIDE}x{SIDE}', '--dtype', 'uint16', '--pattern', '--dialect',
                       'pymodaq4']
        self.start('grabber', '--port', str(served_port(work / 'serve_camera.log')), *demo_camera,
                   log='demo_camera.log')
        # and the bridge alone: demo clients straight to TCPServer plugins here
        self.direct_stage = self.add(module('move', 'TCPServer', port_id=0))
        self.direct_camera = self.add(module('viewer', 'TCPServer', port_id=0))
        self.start('actuator', '--port', self.port_of(self.direct_stage), '--speed', '0', log='direct_stage.log')
        self.start('grabber', '--port', self.port_of(self.direct_camera), *demo_camera, log='direct_camera.log')
        wait(lambda: all(answers(actor, self.coordinator_port) for actor in
                         ('leco_stage', 'leco_camera', 'served_stage', 'served_camera')), 120, 'the LECO actors')
        wait(lambda: all(control.settings[control._hw_settings_name, 'connected'] for control in
                         (self.stage, self.camera, self.direct_stage, self.direct_camera)), 60, 'the bridged modules')
        self.directors = {name: self.add(director(kind, name, self.coordinator_port)) for name, kind in
                          (('leco_stage', 'move'), ('leco_camera', 'viewer'), ('served_stage', 'move'),
                           ('served_camera', 'viewer'))}

    def add(self, control: Any) -> Any:
        self.modules.append(control)
        return control

    def start(self, *args: str, log: str) -> None:
        self.processes.append(ClientProcess(list(args), self.work / log))

    @staticmethod
    def port_of(control: Any) -> str:
        wait(lambda: control.settings[control._hw_settings_name, 'port_id'], 10, 'the port')
        return str(control.settings[control._hw_settings_name, 'port_id'])

    def stages(self) -> List[Any]:
        return [self.directors['leco_stage'], self.stage, self.directors['served_stage'], self.direct_stage]

    def cameras(self) -> List[Any]:
        return [self.directors['leco_camera'], self.camera, self.directors['served_camera'], self.direct_camera]

    def close(self) -> None:
        for control in self.modules:
            control.quit_fun()
        for process in self.processes:
            try:
                process.stop(15)
            except TimeoutError:
                pass
        self.coordinator.terminate()
        self.coordinator.wait(10)


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--moves', type=int, default=20, help='moves per path and repeat')
    parser.add_argument('--frames', type=int, default=3, help='2D frames per path and repeat')
    args = parser.parse_args()
    app = mkQApp('tcpbridge LECO benchmark')  # noqa: F841 (kept alive for the run)
    setup = Setup(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-leco-')))
    moves: Dict[str, List[float]] = {path: [] for path in PATHS}
    frames: Dict[str, List[Dict[str, float]]] = {path: [] for path in PATHS}
    bare: List[Dict[int, float]] = []
    try:
        for _ in range(args.repeats):  # interleaved: the machine's state drifts alike for every path
            for path, stage in zip(PATHS, setup.stages()):
                moves[path].append(time_moves(stage, args.moves))
            for path, camera in zip(PATHS, setup.cameras()):
                frames[path].append(time_frames(camera, args.frames))
            a, b = socket_pair()
            speeds = {}
            for nbytes in {result[-1]['nbytes'] for result in frames.values()}:
                payload = bytes(int(nbytes))
                seconds = statistics.median(bare_transfer(a, b, payload) for _ in range(args.frames))
                speeds[int(nbytes)] = nbytes / seconds / (1 << 20)
            a.close()
            b.close()
            bare.append(speeds)
    finally:
        setup.close()
    rows = []
    for path in PATHS:
        rows.append(row(path, 'move_abs to move_done, median of each repeat (Mock stage; demo stage via serve)', 'ms',
                        moves[path]))
    for path in PATHS:
        results = frames[path]
        what = 'demo camera uint16' if path.startswith('bridge client') else 'Mock camera float64'
        rows.append(row(path, f'2D {SIDE}x{SIDE} snaps ({what}), each asked when the previous arrived', 'MiB/s',
                        [r['mib_s'] for r in results],
                        [r['mib_s'] / speeds[int(r['nbytes'])] for r, speeds in zip(results, bare)],
                        'a bare socket moving the same bytes'))
    return {'rows': rows}


if __name__ == '__main__':
    print(json.dumps(main(), indent=2), flush=True)
    os._exit(0)  # PyMoDAQ's module threads would keep a normal exit waiting
