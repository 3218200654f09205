"""A remote instrument that restarts costs the scan a pause, not the scan: real ``tcpbridge scan``
processes waiting for remote clients, real demo client processes killed with SIGKILL mid-scan and
started again; the HDF5 file read back."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
from pymodaq_data.h5modules.data_saving import DataLoader
from pymodaq_utils.utils import JsonConverter

from helpers import LegacyPeer, wait_until
from tcpbridge.commands import ClientProcess

POINTS = 21
SCAN_TIMEOUT = 180


class RemoteScan:
    """``tcpbridge scan`` waiting for remote clients on ports the OS chooses; its output is read as it
    comes (``lines``); the demo clients are started, killed and started again by the test."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.tmp_path = tmp_path
        self.lines: List[str] = []
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'tcpbridge', 'scan', '--points', str(POINTS), '--dim', '1D', '--actuator-port',
             '0', '--detector-port', '0', '--out', 'out', '--timeout', str(SCAN_TIMEOUT), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.clients: Dict[str, ClientProcess] = {}
        self.ports = {name: self.line(rf'{name}: listening on 127\.0\.0\.1:(\d+)').group(1)
                      for name in ('Stage', 'Detector')}

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip('\n'))

    @property
    def output(self) -> str:
        return '\n'.join(self.lines)

    def line(self, pattern: str, timeout: float = 60.0) -> re.Match:
        """The first output line matching ``pattern`` (waiting for it)."""
        found: List[Optional[re.Match]] = [None]

        def search() -> bool:
            found[0] = next((m for m in map(re.compile(pattern).search, list(self.lines)) if m), None)
            return found[0] is not None or self.process.poll() is not None and not self._reader.is_alive()
        wait_until(search, timeout, f'a line matching {pattern!r}')
        assert found[0] is not None, f'no line matching {pattern!r} in:\n{self.output}'
        return found[0]

    def start(self, name: str, log: str) -> None:
        """The demo stage (2 mm/s: the scan lasts seconds) or detector for module ``name``."""
        args = ['actuator', '--speed', '2', '--units', 'mm'] if name == 'Stage' else ['grabber', '--dim', '1D']
        self.clients[name] = ClientProcess([*args, '--port', self.ports[name]], self.tmp_path / log)

    def kill(self, name: str) -> None:
        process = self.clients[name].process
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def finish(self) -> int:
        code = self.process.wait(SCAN_TIMEOUT + 60)
        self._reader.join(10)
        for client in self.clients.values():
            client.stop()
        return code


@pytest.fixture
def remote_scan(tmp_path: Path):
    scans: List[RemoteScan] = []

    def start(*args: str) -> RemoteScan:
        scans.append(RemoteScan(tmp_path, *args))
        return scans[-1]
    yield start
    for scan in scans:
        if scan.process.poll() is None:
            scan.process.kill()
            scan.process.wait(30)
        for client in scan.clients.values():
            if client.process.poll() is None:
                client.process.kill()


def saved_file(tmp_path: Path) -> Path:
    files = sorted((tmp_path / 'out').glob('*.h5'))
    assert len(files) == 1, files
    return files[0]


@pytest.mark.parametrize('lost', ['Stage', 'Detector'])
def test_a_client_killed_mid_scan_and_started_again_costs_a_pause(remote_scan, tmp_path: Path, lost: str) -> None:
    scan = remote_scan('--reconnect-wait', '60')
    scan.start('Stage', 'stage.log')
    scan.start('Detector', 'detector.log')
    scan.line(rf'\s6/{POINTS} points')
    scan.kill(lost)
    paused = scan.line(rf'paused at point \d+/{POINTS}: {lost}: .*waiting up to 60 s for a client')
    scan.start(lost, f'{lost.lower()}-again.log')
    resumed = scan.line(rf'resumed: {lost}: client back after [\d.]+ s; .* sent again')
    code = scan.finish()
    assert code == 0, scan.output
    assert scan.lines[-1].startswith('PASSED: 2 check(s)'), scan.output
    assert 'points, each equal to what the detector client sent' in scan.output
    assert 'check OK: the saved stage positions are the' in scan.output
    assert paused.start() >= 0 and resumed.start() >= 0
    loader = DataLoader(saved_file(tmp_path))
    try:
        data = loader.load_data('/RawData/Scan000/Detector000/Data1D/CH00/Data00')
    finally:
        loader.close_file()
    assert data.shape == (POINTS, 256)
    np.testing.assert_allclose(data.get_nav_axes()[0].get_data(), np.linspace(0, 10, POINTS))


def test_a_client_that_does_not_come_back_fails_the_scan_and_the_file_says_how_far_it_went(
        remote_scan, tmp_path: Path) -> None:
    scan = remote_scan('--reconnect-wait', '3')
    scan.start('Stage', 'stage.log')
    scan.start('Detector', 'detector.log')
    scan.line(rf'\s6/{POINTS} points')
    scan.kill('Stage')
    failed = scan.line(r'FAILED: Stage lost at point (\d+)/21 and not back within 3 s; the (\d+) points done are in ')
    code = scan.finish()
    assert code == 1, scan.output
    point, done = int(failed.group(1)), int(failed.group(2))
    assert done == point - 1 >= 6
    import h5py
    with h5py.File(saved_file(tmp_path), 'r') as file:
        attrs = {name: JsonConverter.json2object(file.attrs[name]) for name in
                 ('tcpbridge_valid_points', 'tcpbridge_total_points', 'tcpbridge_failure')}
    assert attrs == {'tcpbridge_valid_points': done, 'tcpbridge_total_points': POINTS,
                     'tcpbridge_failure': f'Stage lost at point {point}/21 and not back within 3 s'}


def silent_stage(port: int, answered: int, stop: threading.Event) -> None:
    """A hand-written legacy ACTUATOR that answers its first ``answered`` moves, then never again (it
    still reads, and answers position queries): a client there that does not answer."""
    with socket.create_connection(('127.0.0.1', port), timeout=60) as sock:
        peer = LegacyPeer(sock)
        peer.send_string('ACTUATOR')
        moves = 0
        try:
            while not stop.is_set():
                command = peer.string()
                if command == 'check_position':
                    peer.send_string('position_is')
                    peer.send_scalar(0.0)
                elif command in ('move_abs', 'move_rel'):
                    target = peer.scalar()
                    moves += 1
                    if moves <= answered:
                        peer.send_string('move_done')
                        peer.send_scalar(target)
        except (AssertionError, OSError):  # the plugin closed the connection (its timeout), or the test ends
            return


def test_a_stage_that_never_answers_fails_the_scan_at_its_move_timeout_without_waiting(
        remote_scan, tmp_path: Path) -> None:
    """A client that is there but does not answer is not waited for: the scan fails at the plugin's move
    timeout (20 s), however long the reconnect wait."""
    scan = remote_scan('--reconnect-wait', '60')
    stop = threading.Event()
    stage = threading.Thread(target=silent_stage, args=(int(scan.ports['Stage']), 4, stop), daemon=True)
    stage.start()
    try:
        scan.start('Detector', 'detector.log')
        failed = scan.line(r'FAILED: Stage did not answer at point (\d+)/21: .*no move_done from the client within '
                           r'20 s after move_abs', timeout=120)
        assert scan.finish() == 1, scan.output
    finally:
        stop.set()
        stage.join(30)
    assert int(failed.group(1)) == 4  # the move to start, then points 1-3 answered
    assert 'paused at point' not in scan.output
