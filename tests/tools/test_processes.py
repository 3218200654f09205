"""ClientProcess.describe: what a user is shown when a demo client did not do its job."""
from __future__ import annotations

import socket
from pathlib import Path

from tcpbridge.commands import ClientProcess


def test_an_exited_client_is_described_with_its_code_and_the_end_of_its_log(tmp_path: Path) -> None:
    client = ClientProcess(['actuator', '--dialect', 'no-such-dialect'], tmp_path / 'actuator.log')
    try:
        client.process.wait(60)
        text = client.describe()
    finally:
        client.stop()
    first, *tail = text.splitlines()
    assert first == (f'tcpbridge actuator --dialect no-such-dialect: exited with code 2; '
                     f'the end of its log {tmp_path / "actuator.log"}:')
    assert tail and all(line.startswith('  | ') for line in tail)
    assert "invalid choice: 'no-such-dialect'" in tail[-1]


def test_a_running_client_is_described_with_its_pid(tmp_path: Path) -> None:
    with socket.create_server(('127.0.0.1', 0)) as listener:
        port = str(listener.getsockname()[1])
        client = ClientProcess(['actuator', '--port', port], tmp_path / 'actuator.log')
        try:
            assert client.describe(lines=3).splitlines()[0] == (
                f'tcpbridge actuator --port {port}: running (pid {client.process.pid}); '
                f'the end of its log {tmp_path / "actuator.log"}:')
        finally:
            client.stop()  # it may still be importing: SIGTERM's default action then, not a clean exit


def test_a_client_without_a_log_file_is_described_by_its_state_only() -> None:
    client = ClientProcess(['--version'])
    try:
        client.process.wait(60)
        assert client.describe() == 'tcpbridge --version: exited with code 0'
    finally:
        client.stop()
