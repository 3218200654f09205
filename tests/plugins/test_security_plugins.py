"""The TCPServer plugins' security settings: TLS (``tls_cert``, ``tls_key``, ``tls_client_ca``) with a
demo client given ``--tls-ca/--tls-cert/--tls-key``, and a shared secret (``auth_secret``) with one
given ``--secret``: the plugin serves them, refuses the others with the reason in its status, and
reports bad TLS settings instead of failing silently."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pymodaq.utils.plugin_testing import grab_and_wait

from helpers import client_process, free_port, wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_detector, wait_connected
from pymodaq_plugins_tcpbridge.plugin_settings import CONNECT
from tcpbridge import ObserverClient


def make_pki(*args):
    pytest.importorskip('cryptography')
    from tcpbridge.tools.cert import make_pki as make
    return make(*args)


def test_tls_plugin_serves_a_tls_client_and_refuses_a_plain_one(plugins, tmp_path: Path) -> None:
    lab = make_pki(tmp_path, ['127.0.0.1'], ['instrument'])
    cert, key = lab.clients[0]
    plugin = make_tcp_detector(VIEWERS['1D'], port_id=0, tls_cert=str(lab.server_cert), tls_key=str(lab.server_key),
                           tls_client_ca=str(lab.ca))
    plugins.append(plugin)
    status = StatusLog(plugin)
    assert plugin.initialized and plugin.init_info.endswith('(TLS, client certificates required)')
    port = str(plugin.bridge.address[1])
    with client_process('grabber', '--port', port, '--dim', '1D', '--shape', '32', '--pattern',
                        '--tls-ca', str(lab.ca), '--tls-cert', str(cert), '--tls-key', str(key)):
        wait_connected(plugin)
        with socket.create_connection(plugin.bridge.address) as plain:
            plain.sendall(b'\x00\x00\x00\x07GRABBER')
            status.wait_for('refused: not TLS')
        assert grab_and_wait(plugin, timeout_ms=10000)[0].shape == (32,)


def test_bad_tls_settings_are_reported(plugins, tmp_path: Path) -> None:
    plugin = make_tcp_detector(VIEWERS['0D'], port_id=0, tls_cert=str(tmp_path / 'missing.pem'))
    plugins.append(plugin)
    assert not plugin.initialized and plugin.init_info.startswith('TLS not set up:')
    assert 'missing.pem' in plugin.init_info or 'No such file' in plugin.init_info


def test_shared_secret_plugin_serves_the_client_that_knows_it(plugins) -> None:
    plugin = make_tcp_detector(VIEWERS['0D'], port_id=0, auth_secret='lab secret')
    plugins.append(plugin)
    status = StatusLog(plugin)
    port = str(plugin.bridge.address[1])
    with client_process('grabber', '--port', port, '--dim', '0D', '--secret', 'lab secret'):
        wait_connected(plugin)
        with socket.create_connection(plugin.bridge.address) as legacy:  # e.g. an old LabVIEW client
            legacy.sendall(b'\x00\x00\x00\x07GRABBER' + b'\x00\x00\x00\x05Infos' + b'\x00\x00\x00\x04<a/>')
            assert 'requires authentication' in status.wait_for('refused: this plugin requires')
        assert grab_and_wait(plugin, timeout_ms=10000)[0].shape == (1,)
    ended = subprocess.run([sys.executable, '-m', 'tcpbridge', 'grabber', '--port', port, '--dim', '0D', '--once',
                            '--secret', 'guess'], capture_output=True, text=True, timeout=60)
    assert ended.returncode == 1 and 'refused this GRABBER client: authentication failed: wrong shared secret' \
        in ended.stderr, ended.stderr  # the plugin's own words, through its refusal notice
    status.wait_for('wrong shared secret')
    table = plugin.settings['conn_clients']
    assert table['127.0.0.1 (authentication)'].startswith('1 failed within 60 s as of '), table


def test_an_observer_watches_what_the_viewer_plugin_grabs(plugins) -> None:
    plugin = make_tcp_detector(VIEWERS['1D'], port_id=0, max_observers=1)
    plugins.append(plugin)
    status = StatusLog(plugin)
    watcher = ObserverClient(port=plugin.bridge.address[1])
    thread = watcher.start()
    try:
        status.wait_for('it observes')
        with client_process('grabber', '--port', str(plugin.bridge.address[1]), '--dim', '1D', '--shape', '16',
                            '--pattern'):
            wait_connected(plugin)
            dtes = [grab_and_wait(plugin, timeout_ms=10000) for _ in range(3)]
            seen: list = []
            wait_until(lambda: len(seen.extend(watcher.messages()) or seen) == 3, 10, 'the copies', qt=True)
        for dte, copy in zip(dtes, seen):
            assert list(copy.data.data[0].data[0]) == list(dte[0].data[0])
    finally:
        watcher.stop()
        thread.join(10)


def test_plugin_in_connect_mode_dials_a_tls_instrument_with_its_client_certificate(plugins, tmp_path: Path) -> None:
    """Connect mode: ``tls_ca`` checks the listening instrument's certificate (and host name), ``tls_cert`` /
    ``tls_key`` are the plugin's client certificate, which the instrument (``--tls-ca``) requires."""
    lab = make_pki(tmp_path, ['127.0.0.1'], ['commander'])
    cert, key = lab.clients[0]
    port = free_port()
    with client_process('grabber', '--listen', f'127.0.0.1:{port}', '--dim', '1D', '--shape', '16', '--pattern',
                        '--tls-cert', str(lab.server_cert), '--tls-key', str(lab.server_key), '--tls-ca', str(lab.ca)):
        plugin = make_tcp_detector(VIEWERS['1D'], connection=CONNECT, socket_ip='127.0.0.1', port_id=port,
                               tls_ca=str(lab.ca), tls_cert=str(cert), tls_key=str(key))
        plugins.append(plugin)
        assert plugin.initialized and plugin.init_info.endswith('(TLS)')
        wait_connected(plugin, timeout=30)
        assert grab_and_wait(plugin, timeout_ms=10000)[0].shape == (16,)


def test_plugin_in_connect_mode_refuses_an_instrument_signed_by_another_ca(plugins, tmp_path: Path) -> None:
    lab = make_pki(tmp_path / 'lab', ['127.0.0.1'])
    other = make_pki(tmp_path / 'other', ['127.0.0.1'])
    port = free_port()
    with client_process('grabber', '--listen', f'127.0.0.1:{port}', '--dim', '0D',
                        '--tls-cert', str(other.server_cert), '--tls-key', str(other.server_key)):
        plugin = make_tcp_detector(VIEWERS['0D'], connection=CONNECT, socket_ip='127.0.0.1', port_id=port,
                               tls_ca=str(lab.ca))
        plugins.append(plugin)
        status = StatusLog(plugin)
        assert 'certificate refused' in status.wait_for('certificate refused', timeout=30)
        assert not plugin.client_connected


@pytest.mark.parametrize('settings, problem', [
    ({'connection': 'connect to instrument', 'tls_client_ca': 'ca.pem'}, 'TLS client CA applies to listen mode'),
    ({'connection': 'connect to instrument', 'tls_cert': 'me.pem'}, 'needs the TLS CA of the instrument'),
    ({'tls_ca': 'ca.pem'}, 'TLS CA of the instrument applies to connect to instrument mode'),
])
def test_tls_settings_of_the_other_mode_are_explained(plugins, settings: dict, problem: str) -> None:
    plugin = make_tcp_detector(VIEWERS['0D'], socket_ip='127.0.0.1', port_id=0, **settings)
    plugins.append(plugin)
    assert not plugin.initialized and problem in plugin.init_info
