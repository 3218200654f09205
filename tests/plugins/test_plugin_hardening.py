"""The real TCPServer plugins under hostile or broken clients: what a client sends cannot poison the
plugin (units, settings, infos), hostile connections leave the client in control served, and an
engine that dies is reported and restarted."""
from __future__ import annotations

import random
import socket
from typing import Iterator

import numpy as np
import pytest
from corpus import client_streams, mutate
from pymodaq.utils.plugin_testing import grab_and_wait, make_actuator, make_detector, move_abs_and_wait

from helpers import wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_detector, wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
from tcpbridge import ActuatorClient, GrabberClient
from tcpbridge.wire import ClientType, Encoder, Info, Infos, settings_to_xml

GRABBER_STREAMS = [data for name, data in client_streams() if name.startswith('grabber')]


@pytest.fixture
def detector() -> Iterator:
    plugin = make_detector(VIEWERS['1D'], port_id=0)
    yield plugin
    plugin.close()


@pytest.fixture
def stage() -> Iterator:
    plugin = make_actuator(DAQ_Move_TCPServer, port_id=0)
    yield plugin
    plugin.close()


def start(client):
    client.start()
    return client


def test_hostile_connections_leave_the_client_in_control_served(detector) -> None:
    client = start(GrabberClient(port=detector.bridge.address[1], grab=lambda dim: [np.arange(8.0)]))
    try:
        wait_connected(detector)
        rng = random.Random(3)
        for i in range(120):
            with socket.create_connection(detector.bridge.address, timeout=5) as sock:
                try:
                    sock.sendall(mutate(rng.choice(GRABBER_STREAMS), rng))
                except OSError:
                    pass
            if i % 20 == 19:
                assert grab_and_wait(detector, timeout_ms=5000)[0].data[0][3] == 3.0
        assert detector.bridge.running and detector.client_connected
    finally:
        client.stop()


def test_units_a_client_sends_are_checked_before_use(stage) -> None:
    status = StatusLog(stage)
    client = start(ActuatorClient(port=stage.bridge.address[1], units='not a unit ((',
                                  get_position=lambda: 1.0, move_abs=lambda target: target))
    try:
        wait_connected(stage)
        status.wait_for("client units 'not a unit ((' refused")
        assert stage.axis_unit == ''
        assert move_abs_and_wait(stage, 2.0, timeout_ms=5000).value() == 2.0  # no pint error
    finally:
        client.stop()
    client = start(ActuatorClient(port=stage.bridge.address[1], units='um',
                                  get_position=lambda: 1.0, move_abs=lambda target: target))
    try:
        wait_until(lambda: stage.axis_unit == 'um', 10, 'the valid units', qt=True)
    finally:
        client.stop()


def test_infos_client_is_bounded_and_cleared_when_the_client_leaves(detector) -> None:
    status = StatusLog(detector)
    with socket.create_connection(detector.bridge.address, timeout=5) as sock:
        enc = Encoder()
        sock.sendall(enc.encode_bytes(ClientType('GRABBER'))
                     + b''.join(enc.encode_bytes(Info(f'name{i}', str(i))) for i in range(200)))
        status.wait_for('"Infos Client" holds 64 entries already')
        wait_until(lambda: len(detector.settings.child('infos').children()) == 64, 10, '64 infos', qt=True)
    wait_until(lambda: not detector.settings.child('infos').children(), 10, 'the infos to be cleared', qt=True)


def test_oversized_settings_xml_is_refused_before_parsing(detector) -> None:
    status = StatusLog(detector)
    settings = [{'name': f'p{i}', 'type': 'str', 'value': 'x' * 1000} for i in range(1200)]  # ~1.3 MB
    with socket.create_connection(detector.bridge.address, timeout=5) as sock:
        enc = Encoder()
        sock.sendall(enc.encode_bytes(ClientType('GRABBER')) + enc.encode_bytes(Infos(settings_to_xml('s', settings))))
        status.wait_for('client settings (Infos) rejected: settings XML of')
    assert not detector.settings.child('settings_client').children()


def test_an_allow_list_of_separators_is_refused() -> None:
    plugin = make_tcp_detector(VIEWERS['0D'], port_id=0, allowed_clients=' , ')
    try:
        assert not plugin.initialized and 'empty entry' in plugin.init_info
    finally:
        plugin.close()


def test_an_engine_that_dies_is_reported_and_restarted(detector, monkeypatch: pytest.MonkeyPatch) -> None:
    status = StatusLog(detector)
    first = detector.bridge

    def broken(now: float) -> list:
        raise RuntimeError('a bug in the loop')
    monkeypatch.setattr(first._session, 'check_deadlines', broken)
    with socket.create_connection(first.address, timeout=5):
        status.wait_for('the TCP server stopped on an internal error (RuntimeError: a bug in the loop): restarting it')
    wait_until(lambda: detector.bridge is not first and detector.bridge.running, 10, 'a new engine', qt=True)
    client = start(GrabberClient(port=detector.bridge.address[1], grab=lambda dim: [np.ones(3)]))
    try:
        wait_connected(detector)
        assert grab_and_wait(detector, timeout_ms=5000)[0].data[0][0] == 1.0
    finally:
        client.stop()
