"""``tcpbridge check-client`` passes well-behaved clients (our demo clients in both dialects, the C
reference client) and fails deliberately broken ones with the right diagnostic."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, List

import numpy as np
import pytest

from helpers import wait_until
from tcpbridge import ACTUATOR, GRABBER
from tcpbridge.tools.conformance import FAIL, PASS, WARN, Step, check_client
from tcpbridge.wire import ClientType, Done, Encoder, Infos, MoveDone, PositionIs

C_SOURCE = Path(__file__).parents[2] / 'examples' / 'c' / 'tcpbridge_client.c'
COMPILER = shutil.which('cc') or shutil.which('gcc')


def checked(role: str, client: Callable[[int], object], **options: object) -> List[Step]:
    """Run the checker; ``client(port)`` starts the client under test once it listens."""
    result: List[List[Step]] = []
    listening = threading.Event()
    ports: List[int] = []

    def on_listening(address: tuple) -> None:
        ports.append(address[1])
        listening.set()

    thread = threading.Thread(target=lambda: result.append(check_client(
        role, '127.0.0.1', 0, timeout=5.0, wait_connect=20.0, on_listening=on_listening, **options)))
    thread.start()
    assert listening.wait(10)
    started = client(ports[0])
    thread.join(60)
    if isinstance(started, subprocess.Popen):
        started.terminate()
        started.communicate(timeout=20)
    assert not thread.is_alive() and result
    return result[0]


def demo(kind: str, *args: str) -> Callable[[int], subprocess.Popen]:
    return lambda port: subprocess.Popen([sys.executable, '-m', 'tcpbridge', kind, '--port', str(port), *args],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def statuses(steps: List[Step]) -> dict:
    return {s.name: s.status for s in steps}


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4'])
def test_our_demo_grabber_passes(dialect: str) -> None:
    steps = checked('grabber', demo('grabber', '--dialect', dialect, '--dim', '2D'))
    assert FAIL not in statuses(steps).values(), steps
    assert statuses(steps)['Send Data 2D'] == PASS and statuses(steps)['dialect'] == PASS
    assert statuses(steps)['Send Data 1D: dim'] == WARN  # a 2D camera answering a 1D request


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4'])
def test_our_demo_actuator_passes(dialect: str) -> None:
    from tcpbridge import Dialect
    steps = checked('actuator', demo('actuator', '--dialect', dialect, '--speed', '0'), dialect=Dialect(dialect))
    assert set(statuses(steps).values()) == {PASS}, steps
    assert 'move_rel' in statuses(steps) and 'stop_motion' in statuses(steps)


@pytest.mark.skipif(COMPILER is None, reason='no C compiler')
@pytest.mark.parametrize('role', ['grabber', 'actuator'])
def test_the_c_client_passes(tmp_path: Path, role: str) -> None:
    binary = tmp_path / 'client'
    subprocess.run([COMPILER, '-std=c99', '-D_POSIX_C_SOURCE=200809L', '-O2', '-o', str(binary), str(C_SOURCE),
                    '-lm'], check=True, timeout=120)
    steps = checked(role, lambda port: subprocess.Popen([str(binary), role, '127.0.0.1', str(port)],
                                                        stdout=subprocess.DEVNULL))
    assert FAIL not in statuses(steps).values(), steps


def raw_client(role: str, script: Callable[[socket.socket], None]) -> Callable[[int], threading.Thread]:
    """A hand-written (broken) client in a thread: hello, settings, then ``script``."""
    def start(port: int) -> threading.Thread:
        def run() -> None:
            with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
                enc = Encoder()
                sock.sendall(enc.encode_bytes(ClientType(role)) + enc.encode_bytes(
                    Infos('<settings type="group"><x type="float">1.0</x></settings>')))
                try:
                    script(sock)
                except OSError:
                    pass
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread
    return start


def read_command(sock: socket.socket) -> bytes:
    size = int.from_bytes(sock.recv(4, socket.MSG_WAITALL), 'big')
    return sock.recv(size, socket.MSG_WAITALL)


def done_with_array(dtype: bytes, nbytes: int, shape: List[int], body: bytes) -> bytes:
    def s(b: bytes) -> bytes:
        return len(b).to_bytes(4, 'big') + b
    return (s(b'Done') + (1).to_bytes(4, 'big') + s(b'array') + s(dtype) + nbytes.to_bytes(4, 'big')
            + len(shape).to_bytes(4, 'big') + b''.join(d.to_bytes(4, 'big') for d in shape) + body)


def failure(steps: List[Step]) -> Step:
    return next(s for s in steps if s.status == FAIL)


def test_a_wrong_length_prefix_is_located() -> None:
    def start(port: int) -> None:
        with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
            sock.sendall(b'\x00\x00\x00\x08GRABBER' + b'\x00\x00\x00\x05Infos')  # 8 announced, 7 sent
    steps = checked('grabber', start)
    step = failure(steps)
    assert step.name == 'hello' and "'GRABBER\\x00'" in step.received and step.offset == 0
    assert step.hex.startswith('00 00 00 08 47 52 41 42 42 45 52') and step.section == '§2.1 Connection and hello'


def test_a_wrong_dtype_string_is_named_with_its_offset() -> None:
    def script(sock: socket.socket) -> None:
        assert read_command(sock) == b'Send Data 0D'
        sock.sendall(done_with_array(b'<f9', 8, [1], b'\x00' * 8))
        sock.recv(1024)
    steps = checked('grabber', raw_client(GRABBER, script))
    step = failure(steps)
    assert "dtype '<f9' is not in the whitelist" in step.detail and step.section == '§1 Framing'
    hello_and_infos = len(Encoder().encode_bytes(ClientType(GRABBER))) + len(Encoder().encode_bytes(
        Infos('<settings type="group"><x type="float">1.0</x></settings>')))
    assert step.offset == hello_and_infos and step.hex.startswith('00 00 00 04 44 6f 6e 65')


def test_a_shape_that_does_not_match_the_bytes_fails() -> None:
    def script(sock: socket.socket) -> None:
        read_command(sock)
        sock.sendall(done_with_array(b'<f8', 16, [3], b'\x00' * 16))
        sock.recv(1024)
    step = failure(checked('grabber', raw_client(GRABBER, script)))
    assert 'array of shape (3,) and dtype <f8 needs 24 bytes, 16 announced' in step.detail


def test_a_missing_move_done_fails() -> None:
    def script(sock: socket.socket) -> None:
        enc = Encoder()
        for _ in range(2):  # check_position, get_actuator_value
            read_command(sock)
            sock.sendall(enc.encode_bytes(PositionIs(0.0)))
        read_command(sock)  # move_abs: never answered
        sock.recv(1024)
        sock.recv(1024)
    steps = checked('actuator', raw_client(ACTUATOR, script))
    step = failure(steps)
    assert step.name == 'move_abs' and step.detail == 'no move_done or position_is within 5 s'


def test_a_reply_to_the_wrong_command_fails() -> None:
    def script(sock: socket.socket) -> None:
        read_command(sock)  # Send Data 0D answered with a position
        sock.sendall(Encoder().encode_bytes(MoveDone(1.0)))
        sock.recv(1024)
    step = failure(checked('grabber', raw_client(GRABBER, script)))
    assert step.name == 'Send Data 0D' and step.detail == 'move_done came instead' and step.expected == 'Done'


def test_the_command_writes_json_and_exits_1_on_failure(tmp_path: Path) -> None:
    report = tmp_path / 'report.json'
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    checker = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'check-client', '--role', 'grabber', '--listen',
                                str(port), '--timeout', '3', '--wait-connect', '30', '--json', str(report)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = None
        for _ in range(200):  # until it listens (bounded)
            try:
                client = socket.create_connection(('127.0.0.1', port), timeout=5)
                break
            except ConnectionRefusedError:
                threading.Event().wait(0.05)
        assert client is not None
        with client:
            client.sendall(Encoder().encode_bytes(ClientType(GRABBER)))
            read_command(client)
            client.sendall(Encoder().encode_bytes(Done([np.arange(3.0)])))
            output, _ = checker.communicate(timeout=60)
    finally:
        if checker.poll() is None:
            checker.kill()
    assert checker.returncode == 1, output
    data = json.loads(report.read_text())
    assert data['passed'] is False and any(s['status'] == FAIL for s in data['steps'])
    assert output.rstrip().splitlines()[-1].startswith('FAILED:')


def test_ctrl_c_while_waiting_for_the_client_ends_without_a_traceback(tmp_path) -> None:
    log = tmp_path / 'check.log'
    with open(log, 'w') as output:
        process = subprocess.Popen([sys.executable, '-m', 'tcpbridge', 'check-client', '--role', 'grabber',
                                    '--listen', '127.0.0.1:0', '--wait-connect', '60'], stdout=output, stderr=output)
    try:
        wait_until(lambda: 'waiting for the grabber client on 127.0.0.1:' in log.read_text(), 30, 'the listening line')
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert 'Traceback' not in text and 'interrupted: no report' in text, text
