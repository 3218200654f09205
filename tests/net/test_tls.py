"""TLS on the engine and in the client library (stdlib ``ssl``), with a lab PKI made by
``tcpbridge cert`` (``cryptography``; skipped where it is not installed, e.g. the numpy-only job):
mutual TLS works, and every kind of wrong peer is refused with its reason while the legitimate
client keeps being served.  Independent peers: ``openssl s_client`` and Python's ``ssl``."""
from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import EventLog
from tcpbridge import ACTUATOR, GRABBER, SimulatedDetector, SimulatedStage, client_context, server_context
from tcpbridge.server import BridgeServer, ClientConnected, ClientRefused, MessageReceived
from tcpbridge.wire import Done, MoveAbs, MoveDone, SendData

pytest.importorskip('cryptography')
from tcpbridge.tools.cert import make_pki  # noqa: E402

HELLO = b'\x00\x00\x00\x07GRABBER'


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp('pki')
    lab = make_pki(root / 'lab', ['127.0.0.1', 'localhost'], ['instrument'])
    other = make_pki(root / 'other', ['127.0.0.1'], ['intruder'])  # another lab's CA
    old = make_pki(root / 'old', ['127.0.0.1'], ['instrument'], days=1,
                   not_before=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10))
    wrong_host = make_pki(root / 'wrong_host', ['elsewhere.example'], [])
    return {'lab': lab, 'other': other, 'old': old, 'wrong_host': wrong_host}


def refused(log: EventLog, after: int = 0) -> str:
    return log.wait_for(lambda e: isinstance(e, ClientRefused), after=after).reason


@pytest.fixture
def tls_grabber_server(pki):
    lab = pki['lab']
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log,
                          tls=server_context(lab.server_cert, lab.server_key, lab.ca))
    yield server, log
    server.close()


def say_hello(address, context: ssl.SSLContext) -> None:
    """Connect with ``context``, send a hello and wait for the server's verdict (ssl.SSLError if the
    handshake is refused)."""
    with socket.create_connection(address) as raw, context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
        tls.sendall(HELLO)
        tls.recv(1)


def instrument_context(issued, ca=None):
    cert, key = issued.clients[0]
    return client_context(ca or issued.ca, cert, key)


def test_mutual_tls_carries_frames_and_keeps_the_legitimate_client_served(pki, tls_grabber_server) -> None:
    server, log = tls_grabber_server
    detector = SimulatedDetector('127.0.0.1', server.address[1], dim='2D', shape=(512, 512), dtype='uint16',
                                 pattern=True, tls=instrument_context(pki['lab']))
    thread = detector.start()
    try:
        log.wait_for(lambda e: isinstance(e, ClientConnected))
        # wrong peers meanwhile: each refused with its reason, the instrument keeps being served
        with socket.create_connection(server.address) as plain:
            plain.sendall(HELLO)
            assert 'not TLS' in refused(log)
        mark = len(log.events)
        with pytest.raises(ssl.SSLError):
            say_hello(server.address, client_context(pki['lab'].ca))
        assert 'no client certificate' in refused(log, mark)
        mark = len(log.events)
        with pytest.raises(ssl.SSLError):
            say_hello(server.address, instrument_context(pki['other'], ca=pki['lab'].ca))
        assert 'certificate' in refused(log, mark)
        for index in range(1, 4):
            mark = len(log.events)
            assert server.send(SendData('2D'), expect=(Done,), timeout=10)
            done = log.wait_for(lambda e: isinstance(e, MessageReceived) and isinstance(e.message, Done),
                                after=mark).message
            frame = done.data[0]
            assert frame.shape == (512, 512) and frame.dtype == np.uint16
            np.testing.assert_array_equal(frame.reshape(-1), (np.arange(512 * 512) + index).astype(np.uint16))
            assert not frame.flags.owndata  # received into the decoder's buffer, no copy
    finally:
        detector.stop()
        thread.join(10)


def test_expired_certificates_are_refused_both_ways(pki, tls_grabber_server) -> None:
    server, log = tls_grabber_server
    old = pki['old']
    with pytest.raises(ssl.SSLError):
        say_hello(server.address, client_context(pki['lab'].ca, *old.clients[0]))
    assert 'certificate' in refused(log)
    expired_server = BridgeServer('127.0.0.1', 0, GRABBER, EventLog(), tls=server_context(old.server_cert,
                                                                                          old.server_key))
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match='expired'), \
                socket.create_connection(expired_server.address) as raw:
            client_context(old.ca).wrap_socket(raw, server_hostname='127.0.0.1')
    finally:
        expired_server.close()


def test_a_server_certificate_for_another_host_is_refused(pki) -> None:
    wrong = pki['wrong_host']
    server = BridgeServer('127.0.0.1', 0, GRABBER, EventLog(), tls=server_context(wrong.server_cert, wrong.server_key))
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match='match|mismatch'), \
                socket.create_connection(server.address) as raw:
            client_context(wrong.ca).wrap_socket(raw, server_hostname='127.0.0.1')
    finally:
        server.close()


@pytest.mark.skipif(shutil.which('openssl') is None, reason='no openssl command')
def test_openssl_s_client_with_and_without_a_client_certificate(pki, tls_grabber_server) -> None:
    server, log = tls_grabber_server
    lab = pki['lab']
    cert, key = lab.clients[0]
    base = ['openssl', 's_client', '-connect', f'127.0.0.1:{server.address[1]}', '-CAfile', str(lab.ca),
            '-verify_return_error', '-quiet']
    with subprocess.Popen(base + ['-cert', str(cert), '-key', str(key)], stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as client:
        client.stdin.write(HELLO)
        client.stdin.flush()
        assert log.wait_for(lambda e: isinstance(e, ClientConnected), timeout=20).client.client_type == GRABBER
        client.kill()
    mark = len(log.events)
    subprocess.run(base, input=HELLO, capture_output=True, timeout=30)
    assert 'no client certificate' in refused(log, mark)


def test_connect_mode_dials_a_tls_instrument(pki) -> None:
    """The instrument listens with the server certificate; the server dials it and verifies it."""
    lab = pki['lab']
    stage = SimulatedStage('127.0.0.1', 0, listen=True, speed=0.0, units='mm',
                           tls=server_context(lab.server_cert, lab.server_key, lab.ca))
    thread = stage.start()
    try:
        assert stage.listening.wait(10)
        log = EventLog()
        server = BridgeServer('127.0.0.1', stage.listen_address[1], ACTUATOR, log, dial=True,
                              tls=instrument_context(lab))
        try:
            log.wait_for(lambda e: isinstance(e, ClientConnected))
            server.send(MoveAbs(1.5), expect=(MoveDone,), timeout=10)
            assert log.wait_for(lambda e: isinstance(e, MessageReceived)
                                and isinstance(e.message, MoveDone)).message.value == 1.5
        finally:
            server.close()
    finally:
        stage.stop()
        thread.join(10)


def test_tcpbridge_cert_writes_private_keys_for_their_owner_only(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, '-m', 'tcpbridge', 'cert', '--out', str(tmp_path / 'pki'), '--host',
                             '192.168.1.10', '--host', 'lab-pc', '--client', 'camera-pc'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '--tls-cert camera-pc.pem' in result.stdout
    files = sorted(p.name for p in (tmp_path / 'pki').iterdir())
    assert files == ['ca.key', 'ca.pem', 'camera-pc.key', 'camera-pc.pem', 'server.key', 'server.pem']
    for name in ('ca.key', 'server.key', 'camera-pc.key'):
        assert stat.S_IMODE((tmp_path / 'pki' / name).stat().st_mode) == 0o600
    from cryptography import x509
    server = x509.load_pem_x509_certificate((tmp_path / 'pki' / 'server.pem').read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ['192.168.1.10']
    assert names.get_values_for_type(x509.DNSName) == ['lab-pc']
