"""``tcpbridge serve``: a TCPServer plugin in a headless PyMoDAQ 5 module, reached by bridge clients, and
with ``--leco-name`` by PyMoDAQ's own LECODirector plugins through a real pyleco Coordinator process.

Every piece is real: the Coordinator (``python -m pyleco.coordinators.coordinator``), ``tcpbridge serve``
and the demo clients in their own processes, the LECODirector plugins of PyMoDAQ 5.3 / pymodaq_plugins_mock
in this one (their RPCs wait for the actor: it must not share this Qt thread).
"""
from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np
import pytest

from helpers import C_COMPILER, c_client, client_process, compile_c_client, free_port, stop_process, wait_until
from leco_helpers import answers, director, move_through, start_coordinator
from pymodaq_plugins_tcpbridge.apps.module import close
from tcpbridge import ActuatorClient

#: PyMoDAQ 5.3.8's LECODirector pings its actor every second from a QTimer slot with a 0.1 s timeout and
#: lets the TimeoutError of a late answer escape the slot (a loaded machine): pytest-qt would fail the
#: test for it, although the director goes on working; what is checked here is what arrives
pytestmark = [pytest.mark.timeout(300), pytest.mark.qt_no_exception_capture]

LISTENING = re.compile(r'with the TCPServer plugin: listening on ([\d.]+):(\d+)')


def serve(tmp_path: Path, *args: str, count: int = 1) -> Tuple[subprocess.Popen, int]:
    """``tcpbridge serve ARGS --port 0 [--count COUNT]``, once its ``count`` plugins listen and (with
    --leco-name) their actors signed in, its output in ``tmp_path``/serve.log; returns the process and
    the port the first plugin listens on (:func:`listening_ports`: all)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / 'serve.log'
    log = open(log_path, 'a')  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'serve', *args, '--port', '0', '--count', str(count),
                                '--timeout', '30', '--pymodaq-home', str(tmp_path / 'pymodaq')],
                               stdout=log, stderr=log, text=True)
    leco = '--leco-name' in args
    wait_until(lambda: process.poll() is not None or len(listening_ports(tmp_path)) == count and
               (not leco or log_path.read_text().count('LECO actor') == count), 60 + 30 * count,
               'tcpbridge serve to be ready')
    assert process.poll() is None, log_path.read_text()
    return process, listening_ports(tmp_path)[0]


def listening_ports(tmp_path: Path) -> List[int]:
    """The ports ``tcpbridge serve``'s plugins said they listen on, in its output's order."""
    return [int(port) for _, port in LISTENING.findall((tmp_path / 'serve.log').read_text())]


def wait_logged(tmp_path: Path, text: str, what: str) -> None:
    """Wait until ``tcpbridge serve``'s output says ``text``."""
    wait_until(lambda: text in (tmp_path / 'serve.log').read_text(), 30, what)


def test_a_leco_director_moves_a_bridge_client_through_tcpbridge_serve(tmp_path: Path, coordinator: int) -> None:
    process, port = serve(tmp_path, 'move', '--leco-name', 'bridged_stage', '--coordinator', f'127.0.0.1:{coordinator}')
    module = None
    try:
        with client_process('actuator', '--port', str(port), '--units', 'mm', '--speed', '20'):
            wait_logged(tmp_path, 'ACTUATOR client connected', 'the stage')
            module = director('move', 'bridged_stage', coordinator)
            for target in (2.5, -1.25):
                assert move_through(module, target) == pytest.approx(target, abs=1e-6)
            assert module.settings['actuator_settings', 'settings_client', 'units'] == 'mm'
    finally:
        if module is not None:
            close(module)
        output = stop_process(process, 'tcpbridge serve', tmp_path / 'serve.log', signal.SIGINT)
    assert "LECO actor 'bridged_stage'" in output and 'no client connected' not in output
    assert 'Handling commands of' not in output  # pyleco's chatter stays out of the terminal


def test_two_leco_directors_drive_one_served_stage_in_turn(tmp_path: Path, coordinator: int) -> None:
    process, port = serve(tmp_path, 'move', '--leco-name', 'shared_stage', '--coordinator', f'127.0.0.1:{coordinator}')
    modules: list = []
    try:
        with client_process('actuator', '--port', str(port), '--units', 'mm', '--speed', '50'):
            wait_logged(tmp_path, 'ACTUATOR client connected', 'the stage')
            modules = [director('move', 'shared_stage', coordinator) for _ in range(2)]
            for index, module in enumerate(modules):  # each move ends at the director that asked for it
                assert move_through(module, 1.0 + index) == pytest.approx(1.0 + index, abs=1e-6)
    finally:
        for module in modules:
            close(module)
        stop_process(process, 'tcpbridge serve', tmp_path / 'serve.log', signal.SIGINT)


def test_the_actor_signs_in_again_when_the_coordinator_restarts(tmp_path: Path) -> None:
    port = free_port()
    first = start_coordinator(port)
    process, stage_port = serve(tmp_path, 'move', '--leco-name', 'steady_stage', '--coordinator', f'127.0.0.1:{port}')
    second, module = None, None
    try:
        with client_process('actuator', '--port', str(stage_port), '--units', 'mm', '--speed', '50'):
            first.kill()  # the coordinator's PC rebooted, say
            first.wait(10)
            second = start_coordinator(port)
            wait_until(lambda: answers('steady_stage', port), 60, 'the actor to sign in again')
            module = director('move', 'steady_stage', port)
            assert move_through(module, 3.0) == pytest.approx(3.0, abs=1e-6)
    finally:
        if module is not None:
            close(module)
        stop_process(process, 'tcpbridge serve', tmp_path / 'serve.log', signal.SIGINT)
        for coordinator_process in (first, second):
            if coordinator_process is not None and coordinator_process.poll() is None:
                coordinator_process.terminate()
                coordinator_process.wait(10)


def test_a_leco_director_snaps_a_bridge_grabber_with_its_shape(tmp_path: Path, coordinator: int) -> None:
    process, port = serve(tmp_path, 'viewer', 'DAQ1D', '--leco-name', 'bridged_spectro', '--coordinator',
                          f'127.0.0.1:{coordinator}')
    module = None
    try:
        with client_process('grabber', '--port', str(port), '--dim', '1D', '--dialect', 'pymodaq4'):
            wait_logged(tmp_path, 'GRABBER client connected', 'the grabber')
            module = director('viewer', 'bridged_spectro', coordinator)
            grabbed: list = []
            module.grab_done_signal.connect(grabbed.append)
            module.snap()
            wait_until(lambda: grabbed, 30, 'the snap through LECO', qt=True)
            data = grabbed[-1].get_data_from_dim('Data1D')[0].data[0]
            assert data.ndim == 1 and data.size > 1 and np.isfinite(data).all()
    finally:
        if module is not None:
            close(module)
        stop_process(process, 'tcpbridge serve', tmp_path / 'serve.log', signal.SIGINT)


@pytest.mark.skipif(C_COMPILER is None, reason='no C compiler on this machine')
def test_leco_directors_drive_the_c_reference_client_through_tcpbridge_serve(tmp_path: Path,
                                                                           coordinator: int) -> None:
    """examples/c/tcpbridge_client.c (legacy dialect) as a stage and as a camera, each behind its own
    ``tcpbridge serve --leco-name``: a LECODirector DAQ_Move moves it, a LECODirector DAQ_2DViewer snaps
    its frame with the shape, the spot and the units the C program gives."""
    binary = tmp_path / 'tcpbridge_client'
    built = compile_c_client(binary)
    assert built.returncode == 0, built.stderr
    stage_dir, camera_dir = tmp_path / 'stage', tmp_path / 'camera'
    stage, stage_port = serve(stage_dir, 'move', '--leco-name', 'c_stage', '--coordinator', f'127.0.0.1:{coordinator}')
    camera, camera_port = serve(camera_dir, 'viewer', 'DAQ2D', '--leco-name', 'c_camera', '--coordinator',
                                f'127.0.0.1:{coordinator}')
    modules: list = []
    try:
        with c_client(binary, 'actuator', '127.0.0.1', str(stage_port)), \
                c_client(binary, 'grabber', '127.0.0.1', str(camera_port), '48', '64'):
            wait_logged(stage_dir, 'ACTUATOR client connected', 'the C stage')
            wait_logged(camera_dir, 'GRABBER client connected', 'the C camera')
            modules.append(director('move', 'c_stage', coordinator))
            for target in (2.5, -0.75):
                assert move_through(modules[0], target) == pytest.approx(target, abs=1e-9)
            assert modules[0].settings['actuator_settings', 'settings_client', 'units'] == 'mm'
            modules.append(director('viewer', 'c_camera', coordinator, daq_type='DAQ2D'))
            grabbed: list = []
            modules[1].grab_done_signal.connect(grabbed.append)
            modules[1].snap()
            wait_until(lambda: grabbed, 30, 'the C camera\'s frame through LECO', qt=True)
            frame = grabbed[-1].get_data_from_dim('Data2D')[0].data[0]
            assert frame.shape == (48, 64) and frame[24, 32] == 1000 and frame[0, 0] < 10  # the spot, centred
    finally:
        for module in modules:
            close(module)
        stop_process(stage, 'tcpbridge serve move', stage_dir / 'serve.log', signal.SIGINT)
        stop_process(camera, 'tcpbridge serve viewer', camera_dir / 'serve.log', signal.SIGINT)


def test_a_group_of_cameras_in_one_serve_process_each_its_port_and_leco_name(tmp_path: Path,
                                                                            coordinator: int) -> None:
    """``--count 3``: three DAQ_2DViewer_TCPServer modules in one process, each a client of its own (a
    shape of its own) and a LECO actor cams1..cams3; a director of cams3 snaps the third camera."""
    shapes = ['16x24', '20x30', '24x36']
    process, _ = serve(tmp_path, 'viewer', 'DAQ2D', '--leco-name', 'cams', '--coordinator', f'127.0.0.1:{coordinator}',
                       count=len(shapes))
    module = None
    try:
        ports = listening_ports(tmp_path)
        assert len(set(ports)) == len(shapes)
        with contextlib.ExitStack() as clients:
            for port, shape in zip(ports, shapes):
                clients.enter_context(client_process('grabber', '--port', str(port), '--dim', '2D', '--shape', shape))
            wait_until(lambda: (tmp_path / 'serve.log').read_text().count('GRABBER client connected') == len(shapes),
                       30, 'the three cameras')
            module = director('viewer', 'cams3', coordinator, daq_type='DAQ2D')
            grabbed: list = []
            module.grab_done_signal.connect(grabbed.append)
            module.snap()
            wait_until(lambda: grabbed, 30, 'the snap of cams3 through LECO', qt=True)
            assert grabbed[-1].get_data_from_dim('Data2D')[0].data[0].shape == (24, 36)
    finally:
        if module is not None:
            close(module)
        output = stop_process(process, 'tcpbridge serve --count 3', tmp_path / 'serve.log', signal.SIGINT)
    for number in (1, 2, 3):
        assert f'DAQ_Viewer TCPServer DAQ2D {number} with the TCPServer plugin' in output
        assert f"LECO actor 'cams{number}'" in output


class RecordingStage(ActuatorClient):
    """A bridge client with one setting, ``speed``, that records the edits it receives (set_info)."""

    def __init__(self, port: int) -> None:
        super().__init__('127.0.0.1', port, units='mm', instant_moves=True,
                         settings=[{'name': 'speed', 'title': 'Speed:', 'type': 'float', 'value': 10.0}])
        self.position = 0.0
        self.edits: list = []

    def get_position(self) -> float:
        return self.position

    def move_abs(self, target: float) -> float:
        self.position = target
        return target

    def on_setting_changed(self, path, value) -> None:
        self.edits.append((tuple(path), value))


def test_settings_go_both_ways_between_a_leco_director_and_a_bridge_client(tmp_path: Path, coordinator: int) -> None:
    process, port = serve(tmp_path, 'move', '--leco-name', 'tuned_stage', '--coordinator', f'127.0.0.1:{coordinator}')
    stage, module = RecordingStage(port), None
    thread = stage.start()
    try:
        wait_until(stage.connected.is_set, 30, 'the stage')
        module = director('move', 'tuned_stage', coordinator)

        def speed() -> Any:  # looked up each time: the director rebuilds the tree the actor sends
            try:
                return module.settings.child('actuator_settings', 'settings_client', 'settings_client', 'speed')
            except KeyError:
                return None

        wait_until(lambda: speed() is not None and speed().value() == 10.0, 30, "the client's speed at the director",
                   qt=True)
        speed().setValue(20.0)  # the director's user edits the client's setting
        wait_until(lambda: stage.edits, 30, 'the edit at the client', qt=True)
        assert stage.edits == [(('speed',), 20.0)]
        stage.set_setting(('speed',), 5.0)  # the instrument program changes it
        wait_until(lambda: speed() is not None and speed().value() == 5.0, 30, "the client's change at the director",
                   qt=True)
    finally:
        stage.stop()
        thread.join(10)
        if module is not None:
            close(module)
        stop_process(process, 'tcpbridge serve', tmp_path / 'serve.log', signal.SIGINT)


def test_serve_without_a_coordinator_starts_one_and_prints_where(tmp_path: Path) -> None:
    port = free_port()
    process, _ = serve(tmp_path, 'move', '--leco-name', 'lonely_stage', '--coordinator', f'127.0.0.1:{port}')
    output = stop_process(process, 'tcpbridge serve', tmp_path / 'serve.log', signal.SIGTERM)
    assert 'started a LECO coordinator in this process on' in output and f':{port} (embedded)' in output


def test_serve_checks_its_command_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, '-m', 'tcpbridge', 'serve', 'move', 'DAQ2D'], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and 'takes no DAQ type' in done.stderr
    done = subprocess.run([sys.executable, '-m', 'tcpbridge', 'serve', 'move', '--connect', '10.0.0.5:6341',
                           '--port', '6342'], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and '--connect dials the instrument' in done.stderr
    done = subprocess.run([sys.executable, '-m', 'tcpbridge', 'serve', 'move', '--count', '0'], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and 'the number of modules must be 1 or more' in done.stderr
    done = subprocess.run([sys.executable, '-m', 'tcpbridge', 'serve', 'move', '--count', '2', '--port', '65535'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and 'ports 65535 to 65536: past 65535' in done.stderr
