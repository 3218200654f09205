"""`tcpbridge scan`: a real headless DAQ_Scan through the TCPServer plugins, checked from its HDF5 file."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pymodaq_data.h5modules.data_saving import DataLoader

from helpers import client_process
from pymodaq_plugins_tcpbridge.apps.scan import Session
from pymodaq_plugins_tcpbridge.apps.scan_options import Deadline, ScanError, ScanOptions

SCAN_TIMEOUT = 180  # the command's own bound; its watchdog (and stack dump) comes 60 s later


def scan(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'tcpbridge', 'scan', '--timeout', str(SCAN_TIMEOUT), *args],
                          capture_output=True, text=True, timeout=SCAN_TIMEOUT + 90, cwd=cwd)


def saved(folder: Path, name: str) -> Path:
    """The one file of a run, ``<name>_<date-time>.h5`` (each run writes a new file)."""
    files = sorted(folder.glob(f'{name}_*.h5'))
    assert len(files) == 1 and re.fullmatch(rf'{name}_\d{{8}}-\d{{6}}\.h5', files[0].name), files
    return files[0]


def load(path: Path, dim: str):
    loader = DataLoader(path)
    try:
        return loader.load_data(f'/RawData/Scan000/Detector000/Data{dim}/CH00/Data00')
    finally:
        loader.close_file()


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4'])
def test_scan_1d_detector_both_dialects(tmp_path: Path, dialect: str) -> None:
    result = scan('--points', '11', '--dim', '1D', '--dialect', dialect, '--out', 'out', '--plot', 'out/scan.png',
                  cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '11/11 points' in result.stdout and 'check OK: fitted peak at 5.' in result.stdout
    assert 'check OK: the file holds the 11 points, each equal to what the detector client sent' in result.stdout
    assert 'check OK: the saved stage positions are the 11 scanned from 0 to 10 mm' in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith('PASSED: 3 check(s)')
    # nothing written outside --out: PyMoDAQ's config went to a temporary folder, removed at exit
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']
    path = saved(tmp_path / 'out', f'tcpbridge_scan_1D_1D_{dialect}')
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == sorted(['scan.png', path.name])
    assert (tmp_path / 'out' / 'scan.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        data = load(path, '1D')
        data.get_axis_from_index(1)  # the spectral axis is in the file (legacy data: pixel index)
    assert not [w for w in caught if type(w.message).__name__ == 'DataIndexWarning'], caught
    assert data.shape == (11, 256) and data.nav_indexes == (0,)
    stage = data.get_nav_axes()[0]
    np.testing.assert_allclose(stage.get_data(), np.linspace(0, 10, 11))
    assert stage.units == 'mm'
    curve = data.data[0].sum(axis=1)
    assert stage.get_data()[np.argmax(curve)] == 5.0
    # the demo signal: a gaussian of the stage position (width 1.5 mm) times a line of fixed shape
    expected = np.exp(-0.5 * ((stage.get_data() - 5.0) / 1.5) ** 2)
    np.testing.assert_allclose(curve / curve.max(), expected, atol=0.05)
    if dialect == 'pymodaq4':  # labels and axes sent by the client reach the file (PyMoDAQ 5.3 drops units)
        assert data.labels == ['signal']
        wavelength = data.get_axis_from_index(1)[0]
        assert (wavelength.label, wavelength.units) == ('wavelength', 'nm')
        np.testing.assert_allclose(wavelength.get_data()[[0, -1]], [500, 600])


def test_scan_2d_over_two_remote_stages(tmp_path: Path) -> None:
    result = scan('--scan', '2D', '--points', '5', '--start', '3', '--stop', '7', '--out', 'out', cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = load(saved(tmp_path / 'out', 'tcpbridge_scan_2D_0D_legacy'), '0D')
    assert data.shape == (5, 5)
    axes = data.get_nav_axes()
    for axis in axes:
        np.testing.assert_allclose(axis.get_data(), np.linspace(3, 7, 5))
    peak = np.unravel_index(np.argmax(data.data[0]), (5, 5))
    assert [axes[0].get_data()[peak[0]], axes[1].get_data()[peak[1]]] == [5.0, 5.0]


@pytest.mark.parametrize('points,start,stop,dim,dialect', [('41', '0', '10', '0D', 'legacy'),
                                                          ('7', '10', '2', '1D', 'pymodaq4')])
def test_scan_passes_its_checks_for_other_options(tmp_path: Path, points, start, stop, dim, dialect) -> None:
    result = scan('--points', points, '--start', start, '--stop', stop, '--dim', dim, '--dialect', dialect,
                  '--out', 'out', cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith('PASSED: 3 check(s)'), result.stdout


def test_each_run_writes_a_new_file(tmp_path: Path) -> None:
    for _ in range(2):
        assert scan('--points', '4', '--out', 'out', cwd=tmp_path).returncode == 0
    assert len(list((tmp_path / 'out').glob('tcpbridge_scan_1D_0D_legacy_*.h5'))) == 2


def test_scan_waits_for_remote_clients(tmp_path: Path) -> None:
    """With ports given the plugins wait for real clients (port 0: the OS chooses, the command says which)."""
    process = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'scan', '--points', '4', '--actuator-port', '0',
                                '--detector-port', '0', '--out', 'out', '--timeout', '120'],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    ports, lines = {}, []
    try:
        for line in process.stdout:
            lines.append(line)
            match = re.match(r'(Stage|Detector): listening on 127\.0\.0\.1:(\d+)', line)
            if match:
                ports[match.group(1)] = match.group(2)
            if len(ports) == 2 or len(lines) > 200:
                break
        assert len(ports) == 2, ''.join(lines)
        with client_process('actuator', '--port', ports['Stage'], '--dialect', 'pymodaq4'), \
                client_process('grabber', '--port', ports['Detector'], '--dim', '0D', '--dialect', 'pymodaq4'):
            # read through the same buffered file (communicate() would lose what it has read ahead)
            output = process.stdout.read()  # until the scan exits: bounded by its --timeout
            process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, ''.join(lines) + output
    assert 'waiting for the remote clients' in ''.join(lines) + output
    assert 'points, each equal to what the detector client sent' in output
    assert load(saved(tmp_path / 'out', 'tcpbridge_scan_1D_0D_legacy'), '0D').shape == (4,)


def test_scan_without_pymodaq_says_how_to_install(tmp_path: Path) -> None:
    code = ("import sys, importlib.util\n"
            "real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name == 'pymodaq' else real(name, *a)\n"
            "from tcpbridge.cli import main\n"
            "sys.exit(main(['scan']))\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert 'python -m pip install ".[pymodaq,pyqt6]" in a checkout of pymodaq_plugins_tcpbridge' in result.stderr


def children_of(pid: int) -> list:
    """Live (not zombie) child processes of ``pid``, read from /proc."""
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != 'Z':
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.skipif(not Path('/proc/self/stat').exists(), reason='reads child processes from /proc')
def test_scan_stops_its_clients_when_interrupted(tmp_path: Path) -> None:
    # --timeout 120: if the scan ever hangs while stopping, its faulthandler dumps every thread's stack at
    # 150 s and its watchdog ends it at 180 s, so the failure shows where instead of a pytest timeout
    process = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'scan', '--points', '400', '--speed', '20',
                                '--out', 'out', '--timeout', '120'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=tmp_path)
    lines = []
    try:
        for line in process.stdout:  # until the scan runs
            lines.append(line)
            if 'points/s' in line and not line.strip().startswith('0/') or len(lines) > 300:
                break
        children = children_of(process.pid)
        assert len(children) == 2, ''.join(lines)  # the demo stage and detector
        process.terminate()
        output = process.stdout.read()  # until it exits (same buffered file as above)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, ''.join(lines) + output
    assert 'stopped: interrupted while waiting for the end of the scan' in output
    assert not [child for child in children if alive(child)]


def test_scan_gives_up_waiting_for_clients(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, '-m', 'tcpbridge', 'scan', '--actuator-port', '0', '--detector-port', '0',
                             '--timeout', '15'], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert 'FAILED: timed out waiting for the clients to connect' in result.stdout
    reasons = result.stdout.split('FAILED: timed out waiting for the clients to connect\n')[1].splitlines()
    assert [line.split(' (port ')[0] for line in reasons[:2]] == ['Stage', 'Detector']
    assert all(line.endswith('): no client connected') for line in reasons[:2]), result.stdout


def test_scan_of_pymodaq_mock_plugins_hosted_by_tcpbridge_module(tmp_path: Path) -> None:
    """PyMoDAQ on both sides: the Mock stage and the Mock 1D detector run in ``tcpbridge module``
    processes, the scan runs here; the file holds what the hosted detector produced, with its axis."""
    result = scan('--instruments', 'pymodaq-mock', '--points', '5', '--start', '0', '--stop', '2', '--dim', '1D',
                  '--dialect', 'pymodaq4', '--out', 'out', cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'points, each equal to what the detector client sent' in result.stdout
    assert 'check OK: the saved stage positions are the 5 scanned from 0 to 2 mm' in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith('PASSED: 2 check(s)')
    data = load(saved(tmp_path / 'out', 'tcpbridge_scan_1D_1D_pymodaq4_pymodaq-mock'), '1D')
    assert data.shape == (5, 512) and data.nav_indexes == (0,)
    np.testing.assert_allclose(data.get_nav_axes()[0].get_data(), np.linspace(0, 2, 5))
    wavelength = data.get_axis_from_index(1)[0]
    assert (wavelength.label, wavelength.units) == ('photon wavelength', 'nm')
    assert np.all(np.isfinite(data.data[0])) and data.data[0].max() > 1  # the Mock spectra, not zeros


class DAQ_Move_Stub:  # noqa: N801 ('DAQ_Move' in the name: Session reads its actuator settings)
    """What Session.wait_clients reads of a PyMoDAQ module: a title, its port, and the plugin's
    BridgeServer (None: no client ever connected)."""

    group = 'actuator_settings'

    def __init__(self, title: str, port: int) -> None:
        self.title = title
        self.settings = {(self.group, 'port_id'): port}
        self.controller_and_thread = SimpleNamespace(controller=None)


class DAQ_Viewer_Stub(DAQ_Move_Stub):  # noqa: N801
    group = 'detector_settings'


def test_waiting_for_demo_clients_ends_at_once_when_one_exits(qapp, tmp_path: Path) -> None:
    """A demo client that exits (here: refused arguments) ends the wait at once, not at the deadline,
    and the error names its module, its exit code and the end of its log."""
    with socket.socket() as unused:
        unused.bind(('127.0.0.1', 0))  # bound, never listening: connecting to it is refused
        port = unused.getsockname()[1]
        session = Session(ScanOptions(), Deadline(120), tmp_path)
        session.actuators, session.detector = [DAQ_Move_Stub('Stage', port)], DAQ_Viewer_Stub('Detector', port)
        session.start_client(session.actuators[0], ['actuator', '--dialect', 'no-such-dialect'], 'actuator_0.log')
        session.start_client(session.detector, ['grabber', '--port', str(port)], 'grabber.log')  # retries
        start = time.monotonic()
        try:
            with pytest.raises(ScanError) as error:
                session.wait_clients()
        finally:
            session.close()
    assert time.monotonic() - start < 60
    lines = str(error.value).splitlines()
    assert lines[0] == 'a demo client exited'
    assert lines[1] == (f'Stage (port {port}): no client connected; tcpbridge actuator --dialect no-such-dialect: '
                        f'exited with code 2; the end of its log {tmp_path / "actuator_0.log"}:')
    assert "invalid choice: 'no-such-dialect'" in lines[-1]
    assert not any(line.startswith('Detector') for line in lines)  # still running: not the cause


@pytest.mark.parametrize('options, message', [
    (['--points', '1'], "argument --points: '1': the number of points must be 2 or more"),
    (['--points', '0'], "argument --points: '0': the number of points must be 2 or more"),
    (['--points', '-3'], "argument --points: '-3': the number of points must be 2 or more"),
    (['--start', '5', '--stop', '5'], '--start and --stop are both 5: a scan needs a range'),
    (['--scan', '2D', '--actuator-port', '5000'], 'a 2D scan needs 2 --actuator-port value(s), 1 given'),
    (['--actuator-port', '5000', '--detector-port', '5000'], 'each plugin needs its own port: 5000, 5000 has'),
    (['--detector-port', '70000'], "argument --detector-port: '70000' is not a TCP port to listen on (0 to 65535"),
    (['--start', 'inf'], "argument --start: 'inf': the value must be finite"),
    (['--timeout', '0'], "argument --timeout: '0': the time (s) must be above 0 and at most 86400"),
    (['--reconnect-wait', '-1'], "argument --reconnect-wait: '-1': the time (s) must be 0 or more and at most 86400"),
])
def test_options_that_make_no_scan_are_refused_before_anything_starts(tmp_path: Path, options, message) -> None:
    result = subprocess.run([sys.executable, '-m', 'tcpbridge', 'scan', *options], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr and result.stdout == '' and not list(tmp_path.iterdir())
