"""Ctrl+C on a demo client, waiting for the server or connected to it: one line, exit 0, no traceback
and no 'reconnecting'."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from helpers import wait_until
from tcpbridge import ACTUATOR, GRABBER
from tcpbridge.server import BridgeServer


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
            wait_until(lambda: server.in_control is not None, 20, 'the client to connect')
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


#: a client in the main thread; once it waits (listening for a commander, or pausing before it connects
#: again to a port that refuses), SIGTERM goes to another thread of the process, as the OS may choose
#: for a process-directed signal (e.g. to the move worker of an ActuatorClient)
SIGNAL_TO_A_WORKER = '''
import logging, signal, socket, sys, threading, time
from tcpbridge import ActuatorClient

signal.signal(signal.SIGTERM, lambda signum, frame: client.interrupt())
listen = sys.argv[1] == 'listen'
refusing = socket.socket()
refusing.bind(('127.0.0.1', 0))  # bound, not listening: connections are refused
client = ActuatorClient(port=0 if listen else refusing.getsockname()[1], listen=listen, retry_delay=60,
                        get_position=lambda: 0.0, move_abs=lambda target: target)
paused = threading.Event()  # set when the client logs that it waits before connecting again

class PauseSeen(logging.Handler):
    def emit(self, record):
        if 'waiting for the server' in record.getMessage():
            paused.set()
logging.getLogger('tcpbridge').addHandler(PauseSeen())
logging.getLogger('tcpbridge').setLevel(logging.INFO)

def signal_from_a_worker():
    assert (client.listening if listen else paused).wait(10)
    started[0] = time.monotonic()
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
started = [0.0]
threading.Thread(target=signal_from_a_worker, daemon=True).start()
client.run()
print(f'interrupted after {time.monotonic() - started[0]:.3f} s' if client.interrupted else 'not interrupted')
'''


@pytest.mark.parametrize('waiting', ['listen', 'pause'])
def test_a_signal_the_os_gives_to_another_thread_still_stops_the_client_at_once(waiting: str) -> None:
    """CPython runs signal handlers in the main thread only; without a wakeup fd on the client's
    select, the main thread slept on until the kill (seen as a demo stage ignoring SIGTERM).  The
    handler calls ``client.interrupt()``, as the demo commands do."""
    done = subprocess.run([sys.executable, '-c', SIGNAL_TO_A_WORKER, waiting], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('interrupted after '), done.stdout + done.stderr
    assert float(done.stdout.split()[2]) < 5.0, done.stdout
