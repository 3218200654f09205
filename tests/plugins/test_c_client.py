"""The C reference client (examples/c/tcpbridge_client.c), built with the machine's C compiler and
run against the real TCPServer plugins: a 2D frame of big-endian uint16, and every move command."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import (
    grab_and_wait,
    make_actuator,
    make_detector,
    move_abs_and_wait,
    move_home_and_wait,
    move_rel_and_wait,
)

from helpers import C_COMPILER, c_client, compile_c_client
from plugin_helpers import VIEWERS, StatusLog, make_tcp_detector, wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer

pytestmark = pytest.mark.skipif(C_COMPILER is None, reason='no C compiler on this machine')


@pytest.fixture(scope='module')
def program(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp('c') / 'tcpbridge_client'
    built = compile_c_client(binary)
    assert built.returncode == 0, built.stderr
    return binary


def test_c_grabber_frame(program: Path) -> None:
    plugin = make_detector(VIEWERS['2D'], port_id=0)
    try:
        status = StatusLog(plugin)
        with c_client(program, 'grabber', '127.0.0.1', str(plugin.bridge.address[1]), '48', '64'):
            wait_connected(plugin)
            frame = grab_and_wait(plugin, timeout_ms=10000)[0].data[0]
            assert frame.shape == (48, 64) and frame.dtype == np.dtype('>u2')
            assert frame[24, 32] == 1000 and frame[0, 0] < 10  # the spot, centred
            assert plugin.settings['settings_client', 'exposure'] == 10.0
            status.wait_for('speaks legacy')
    finally:
        plugin.close()


def test_c_actuator_moves(program: Path) -> None:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
    try:
        with c_client(program, 'actuator', '127.0.0.1', str(plugin.bridge.address[1])):
            wait_connected(plugin)
            assert move_abs_and_wait(plugin, 2.5, timeout_ms=5000).value() == 2.5
            assert move_rel_and_wait(plugin, 1.0, timeout_ms=5000).value() == 3.5
            assert move_home_and_wait(plugin, timeout_ms=5000).value() == 0.0
            assert plugin.axis_unit == 'mm'
    finally:
        plugin.close()


def test_c_grabber_over_mutual_tls(tmp_path: Path) -> None:
    """The same C client built with OpenSSL (-DTCPBRIDGE_TLS), certificates from 'tcpbridge cert', into a
    plugin that requires client certificates: TLS costs a C program two byte pumps and a handshake."""
    pytest.importorskip('cryptography')
    from tcpbridge.tools.cert import make_pki
    binary = tmp_path / 'tcpbridge_client_tls'
    built = compile_c_client(binary, '-DTCPBRIDGE_TLS', '-lssl', '-lcrypto')
    if built.returncode and 'openssl/' in built.stderr:
        pytest.skip('no OpenSSL headers on this machine (libssl-dev)')
    assert built.returncode == 0, built.stderr
    lab = make_pki(tmp_path / 'pki', ['127.0.0.1'], ['instrument'])
    cert, key = lab.clients[0]
    plugin = make_tcp_detector(VIEWERS['2D'], port_id=0, tls_cert=str(lab.server_cert), tls_key=str(lab.server_key),
                               tls_client_ca=str(lab.ca))
    environment = dict(os.environ, TCPBRIDGE_TLS_CA=str(lab.ca), TCPBRIDGE_TLS_CERT=str(cert),
                       TCPBRIDGE_TLS_KEY=str(key))
    try:
        with c_client(binary, 'grabber', '127.0.0.1', str(plugin.bridge.address[1]), '16', '24', env=environment):
            wait_connected(plugin)
            frame = grab_and_wait(plugin, timeout_ms=10000)[0].data[0]
            assert frame.shape == (16, 24) and frame[8, 12] == 1000
    finally:
        plugin.close()
