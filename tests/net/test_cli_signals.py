"""Ctrl+C on a demo client, waiting for the server or connected to it: one line, exit 0, no traceback
and no 'reconnecting'."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from helpers import wait_until
from tcpbridge import ACTUATOR, GRABBER, BridgeServer


@pytest.mark.parametrize('kind,client_type', [('grabber', GRABBER), ('actuator', ACTUATOR)])
@pytest.mark.parametrize('connected', [False, True])
def test_ctrl_c_stops_a_client_cleanly(kind: str, client_type: str, connected: bool) -> None:
    server = BridgeServer('127.0.0.1', 0, client_type, lambda event: None)
    port = server.address[1]
    if not connected:
        server.close()  # nothing listens: the client waits and retries
    process = subprocess.Popen([sys.executable, '-m', 'tcpbridge', kind, '--port', str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        if connected:
            wait_until(lambda: server.controller is not None, 20, 'the client to connect')
        else:
            line = process.stdout.readline()
            while 'waiting for the server' not in line:  # bounded: the client prints it within a second
                assert line, 'the client exited'
                line = process.stdout.readline()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        server.close()
    assert process.returncode == 0, output
    assert 'Traceback' not in output and 'reconnecting' not in output, output
    assert output.rstrip().endswith('INFO: stopped'), output
