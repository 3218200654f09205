"""The client says "connected" only when the plugin accepted it, and says why when it did not
(docs/protocol.rst §9.4): the real engine, real clients (threads and ``tcpbridge`` processes), TLS
refusals included; a server that does not know the extension (PyMoDAQ 3.x/4.x's) still works."""
from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers import EventLog, wait_until
from tcpbridge import GRABBER, GrabberClient, RefusedByServer, client_context, server_context
from tcpbridge.net import client as client_module
from tcpbridge.server import IN_CONTROL, WAITING, BridgeServer, ClientConnected
from tcpbridge.wire import Accepted, ClientType, Decoder, Encoder, Infos, Side, StatusRequest


def run_client(client: GrabberClient) -> threading.Thread:
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    return thread


def test_connected_means_the_plugin_took_the_client_and_says_in_which_role(caplog) -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log)
    first, second = GrabberClient(port=server.address[1]), GrabberClient(port=server.address[1])
    threads = []
    try:
        # the level is raised before the first client starts: it may log "connected" at once
        with caplog.at_level(logging.INFO, logger='tcpbridge.client'):
            threads.append(first.start())
            assert first.connected.wait(10)
            # when the client says connected, the plugin has it in control already
            assert [c.role for c in server.clients] == [IN_CONTROL]
            threads.append(second.start())
            assert second.connected.wait(10)
            assert [c.role for c in server.clients] == [IN_CONTROL, WAITING]
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith('connected to')]
        assert said[0].endswith(': accepted, in control') and said[1].endswith(': accepted, waiting'), said
    finally:
        for client in (first, second):
            client.stop()
        for thread in threads:
            thread.join(10)
        server.close()


def test_a_refused_client_gives_the_plugins_reason_and_stops_when_run_once() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, max_clients=1)
    holder = GrabberClient(port=server.address[1])
    thread = holder.start()
    try:
        assert holder.connected.wait(10)
        late = GrabberClient(port=server.address[1], reconnect=False)
        with pytest.raises(RefusedByServer, match=r'refused this GRABBER client: 1 client\(s\) connected already'):
            late.run()
        assert not late.connected.is_set()
        # with reconnection, refusals count as failed attempts for max_attempts
        patient = GrabberClient(port=server.address[1], max_attempts=2, retry_delay=0.05)
        with pytest.raises(RefusedByServer, match=r'\(2 attempts\): 1 client\(s\) connected already'):
            patient.run()
        assert holder.connected.is_set() and len(server.clients) == 1  # the client in control is untouched
    finally:
        holder.stop()
        thread.join(10)
        server.close()


def test_a_server_that_does_not_know_the_extension_is_taken_as_accepting(monkeypatch, caplog) -> None:
    """A PyMoDAQ 3.x/4.x server ignores tcpbridge.status: the client goes on after ACCEPT_WAIT_S."""
    monkeypatch.setattr(client_module, 'ACCEPT_WAIT_S', 0.5)
    received = []
    with socket.create_server(('127.0.0.1', 0)) as listener:
        def old_server() -> None:  # reads the hello and what follows until the client closes; answers nothing
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                decoder = Decoder(Side.SERVER)
                while data := conn.recv(65536):
                    received.extend(decoder.feed(data))
        server = threading.Thread(target=old_server, daemon=True)
        server.start()
        client = GrabberClient(port=listener.getsockname()[1], reconnect=False)
        with caplog.at_level(logging.INFO, logger='tcpbridge.client'):
            thread = run_client(client)
            started = time.monotonic()
            assert client.connected.wait(10)
            waited = time.monotonic() - started
        client.stop()
        thread.join(10)
        server.join(10)
    assert received[:2] == [ClientType(GRABBER), StatusRequest()] and isinstance(received[2], Infos)
    assert 0.4 <= waited < 5
    assert any('not confirmed' in r.getMessage() for r in caplog.records)


def test_a_client_that_does_not_ask_is_not_told(monkeypatch) -> None:
    """confirm_acceptance=False: the bytes of the classic protocol only."""
    with socket.create_server(('127.0.0.1', 0)) as listener:
        client = GrabberClient(port=listener.getsockname()[1], reconnect=False, confirm_acceptance=False)
        thread = run_client(client)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            decoder, received = Decoder(Side.SERVER), []
            while len(received) < 2:
                received += decoder.feed(conn.recv(65536))
            assert client.connected.wait(10)
        client.stop()
        thread.join(10)
    assert received[0] == ClientType(GRABBER) and isinstance(received[1], Infos) and len(received) == 2


def test_the_plugins_answer_is_an_accepted_message_on_the_wire() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log)
    try:
        with socket.create_connection(server.address) as raw:
            raw.sendall(Encoder().encode_bytes(ClientType(GRABBER)) + Encoder().encode_bytes(StatusRequest()))
            raw.settimeout(10)
            decoder, got = Decoder(Side.CLIENT), []
            while not got:
                got = decoder.feed(raw.recv(4096))
            assert got == [Accepted(IN_CONTROL)]
            log.wait_for(lambda e: isinstance(e, ClientConnected))
    finally:
        server.close()


# -- TLS: a refusal by the plugin's certificate check, and a certificate the client refuses ----------

cryptography = pytest.importorskip('cryptography')


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    from tcpbridge.tools.cert import make_pki
    root = tmp_path_factory.mktemp('pki')
    return {'lab': make_pki(root / 'lab', ['127.0.0.1'], ['instrument']),
            'other': make_pki(root / 'other', ['127.0.0.1'], ['intruder'])}


def grabber(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'tcpbridge', 'grabber', '--port', str(port), '--dim', '0D', *args],
                          capture_output=True, text=True, timeout=60)


def test_a_client_without_the_required_certificate_is_told_it_was_refused(pki) -> None:
    lab = pki['lab']
    server = BridgeServer('127.0.0.1', 0, GRABBER, EventLog(), tls=server_context(lab.server_cert, lab.server_key,
                                                                                  lab.ca))
    try:
        ended = grabber(server.address[1], '--once', '--tls-ca', str(lab.ca))
        assert ended.returncode == 1, ended.stderr
        assert 'refused this GRABBER client: TLS: no client certificate' in ended.stderr, ended.stderr
        assert 'connected to' not in ended.stderr
    finally:
        server.close()


def test_a_server_certificate_the_client_rejects_is_not_reported_as_no_server(pki) -> None:
    other = pki['other']
    server = BridgeServer('127.0.0.1', 0, GRABBER, EventLog(), tls=server_context(other.server_cert,
                                                                                   other.server_key))
    try:
        ended = grabber(server.address[1], '--max-attempts', '2', '--tls-ca', str(pki['lab'].ca))
        assert ended.returncode == 1, ended.stderr
        assert 'TLS with 127.0.0.1:' in ended.stderr and 'certificate refused' in ended.stderr, ended.stderr
        assert 'no server at' not in ended.stderr
    finally:
        server.close()


def test_a_client_with_the_right_certificate_says_connected_once_accepted(pki) -> None:
    lab = pki['lab']
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, tls=server_context(lab.server_cert, lab.server_key, lab.ca))
    cert, key = lab.clients[0]
    client = GrabberClient(port=server.address[1], tls=client_context(lab.ca, cert, key))
    thread = client.start()
    try:
        assert client.connected.wait(10)
        wait_until(lambda: [c.role for c in server.clients] == [IN_CONTROL], 10)
    finally:
        client.stop()
        thread.join(10)
        server.close()


class LinkLog(GrabberClient):
    """A client that records what its link_changed hook hears."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.states: list = []

    def link_changed(self, state: str, detail: str) -> None:
        self.states.append((state, detail))


def test_the_link_hook_follows_waiting_connected_refused_and_disconnected() -> None:
    with socket.create_server(('127.0.0.1', 0)) as placeholder:  # a port nobody listens on, once closed
        port = placeholder.getsockname()[1]
    client = LinkLog(port=port, retry_delay=0.05)
    thread = client.start()
    server = None
    try:
        wait_until(lambda: client.states, 10)
        assert client.states[0][0] == 'waiting'
        server = BridgeServer('127.0.0.1', port, GRABBER, EventLog())
        wait_until(lambda: ('connected', 'accepted, in control') in client.states, 10)
        server.close()
        wait_until(lambda: client.states[-1][0] == 'disconnected', 10)
        server = BridgeServer('127.0.0.1', port, GRABBER, EventLog(), auth_secret='lab secret')
        wait_until(lambda: client.states[-1][0] == 'refused', 10)
        assert 'requires authentication' in client.states[-1][1]
    finally:
        client.stop()
        thread.join(10)
        if server is not None:
            server.close()
