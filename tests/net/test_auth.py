"""Shared-secret authentication on real sockets: the demo client with ``--secret`` (or
``TCPBRIDGE_SECRET``) is served, a client without it or with a wrong one is refused with the reason,
and a client that authenticates can still talk to a server that does not ask for it."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers import EventLog, client_process, received
from tcpbridge import GRABBER, SimulatedDetector
from tcpbridge.server import BridgeServer, ClientConnected, ClientRefused
from tcpbridge.wire import Done, Infos, SendData


def test_the_demo_client_authenticates_and_others_are_refused() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, auth_secret='lab secret')
    port = str(server.address[1])
    try:
        # refused clients, run once: they say why the plugin refused them (its own words), exit 1
        for args, reason in ((['--secret', 'wrong'], 'wrong shared secret'), ([], 'requires authentication')):
            mark = len(log.events)
            ended = subprocess.run([sys.executable, '-m', 'tcpbridge', 'grabber', '--port', port, '--dim', '0D',
                                    '--once', *args], capture_output=True, text=True, timeout=60)
            assert ended.returncode == 1, ended.stderr
            said = log.wait_for(lambda e: isinstance(e, ClientRefused), after=mark).reason
            assert reason in said and f'refused this GRABBER client: {said}' in ended.stderr
            assert 'connected to' not in ended.stderr and ended.stderr.count(reason) == 1, ended.stderr
        os.environ['TCPBRIDGE_SECRET'] = 'lab secret'  # the way that keeps it out of the process list
        try:
            with client_process('grabber', '--port', port, '--dim', '0D'):
                log.wait_for(lambda e: isinstance(e, ClientConnected))
                log.wait_for(received(Infos))  # the settings come once authenticated
                server.send(SendData('0D'), expect=(Done,), timeout=10)
                log.wait_for(received(Done))
        finally:
            del os.environ['TCPBRIDGE_SECRET']
    finally:
        server.close()


def test_a_client_with_a_secret_works_with_a_server_without_authentication() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log)
    detector = SimulatedDetector(port=server.address[1], dim='0D', secret='anything')
    thread = detector.start()
    try:
        log.wait_for(received(Infos))
        server.send(SendData('0D'), expect=(Done,), timeout=10)
        log.wait_for(received(Done))
        assert not log.of_type(ClientRefused)
    finally:
        detector.stop()
        thread.join(10)
        server.close()
