"""Every option of the ``tcpbridge`` commands is checked when the command line is read: a bad value ends
the command before it starts anything (no connection attempt, no file), in one line after the usage,
with exit code 2 and no traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BAD_OPTIONS = [
    (['grabber', '--port', '70000'], "argument --port: '70000' is not a TCP port (1 to 65535)"),
    (['grabber', '--port', '0'], "argument --port: '0' is not a TCP port (1 to 65535)"),
    (['grabber', '--push-rate', '-1'], "argument --push-rate: '-1': the rate (Hz) must be 0 or more"),
    (['grabber', '--push-rate', 'nan'], "argument --push-rate: 'nan': the rate (Hz) must be 0 or more"),
    (['grabber', '--peak-width', '0'], "argument --peak-width: '0': the width must be above 0"),
    (['grabber', '--noise', '-0.1'], "argument --noise: '-0.1': the noise rms must be 0 or more"),
    (['grabber', '--seed', '-1'], "argument --seed: '-1': the seed must be 0 or more"),
    (['grabber', '--max-attempts', '0'], "argument --max-attempts: '0': the number of attempts must be 1 or more"),
    (['grabber', '--max-attempts', 'two'], "argument --max-attempts: 'two' is not a whole number"),
    (['grabber', '--tls-ca', 'no-such-ca.pem'], "argument --tls-ca: 'no-such-ca.pem': no such file"),
    (['grabber', '--listen', '99999'], "argument --listen: '99999' is not [ADDR:]PORT"),
    (['actuator', '--speed', '-2'], "argument --speed: '-2': the speed (units/s) must be 0 or more"),
    (['actuator', '--position', 'inf'], "argument --position: 'inf': the value must be finite"),
    (['actuator', '--tls-cert', 'no-such-cert.pem'], "argument --tls-cert: 'no-such-cert.pem': no such file"),
    (['check-client', '--role', 'grabber', '--timeout', '0'],
     "argument --timeout: '0': the time (s) must be above 0 and at most 86400"),
    (['check-client', '--role', 'grabber', '--wait-quit', '-1'],
     "argument --wait-quit: '-1': the time (s) must be 0 or more"),
    (['cert', '--out', 'certs', '--host', 'lab-pc', '--days', '0'],
     "argument --days: '0': the number of days must be 1 or more"),
    (['monitor', '--to', '127.0.0.1:0'], "argument --to: '127.0.0.1:0': port 0 is not a port to connect to"),
    (['monitor', '--to', '127.0.0.1:6341', '--sessions', '0'],
     "argument --sessions: '0': the number of sessions must be 1 or more"),
    (['replay', 'session.jsonl', '--timeout', '-5'], "argument --timeout: '-5': the time (s) must be above 0"),
    (['module', 'move', 'Mock', '--port', '-1'], "argument --port: '-1' is not a TCP port (1 to 65535)"),
    (['module', 'move', 'Mock', '--timeout', '0'], "argument --timeout: '0': the time (s) must be above 0"),
]


@pytest.mark.parametrize('options, message', BAD_OPTIONS, ids=[' '.join(o) for o, _ in BAD_OPTIONS])
def test_a_bad_option_ends_the_command_before_it_starts(tmp_path: Path, options: list, message: str) -> None:
    result = subprocess.run([sys.executable, '-m', 'tcpbridge', *options], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith('usage: tcpbridge ') and message in lines[-1], result.stderr
    assert lines[-1].startswith(f'tcpbridge {options[0]}: error: '), lines[-1]
    assert 'Traceback' not in result.stderr and result.stdout == '' and not list(tmp_path.iterdir())
