"""The client's side, sans I/O: hello, settings out and in, decoding of server commands."""
from __future__ import annotations

from tcpbridge import (
    GRABBER,
    ClientSession,
    ClientType,
    Decoder,
    Encoder,
    Infos,
    InfoXml,
    SendData,
    SetInfo,
    parse_settings_xml,
)

SETTINGS = [{'name': 'exposure', 'type': 'float', 'value': 10.0},
            {'name': 'mode', 'type': 'list', 'value': 'a', 'limits': ['a', 'b']},
            {'name': 'serial', 'type': 'str', 'value': 'X1', 'readonly': True}]


def session() -> ClientSession:
    return ClientSession(GRABBER, 'detector_settings', SETTINGS)


def test_the_hello_then_the_settings() -> None:
    messages = Decoder().feed(b''.join(bytes(b) for b in session().connection_made()))
    assert messages[0] == ClientType(GRABBER) and isinstance(messages[1], Infos)
    root, params = parse_settings_xml(messages[1].xml)
    assert root == 'detector_settings' and [p['name'] for p in params] == ['exposure', 'mode', 'serial']


def test_server_commands_in_any_chunking() -> None:
    client = session()
    client.connection_made()
    data = Encoder().encode_bytes(SendData('2D')) * 3
    got = []
    for byte in data:
        buffer = client.receive_buffer()
        buffer[0] = byte
        got += client.bytes_received(1)
    assert got == [SendData('2D')] * 3 and not client.in_message


def test_set_info_applies_to_editable_settings_only() -> None:
    client = session()
    assert client.apply_set_info(SetInfo(('detector_settings', 'exposure'),
                                         '<exposure type="float">2.5</exposure>')) == (['exposure'], 2.5)
    assert client.setting(['exposure']) == 2.5
    assert client.apply_set_info(SetInfo(('detector_settings', 'serial'), '<serial type="str">Y</serial>')) is None
    assert client.apply_set_info(SetInfo(('nothing',), '<nothing type="str">Y</nothing>')) is None
    assert client.apply_set_info(SetInfo(('mode',), '<mode type="list">not xml')) is None
    assert client.setting(['serial']) == 'X1'


def test_a_local_change_becomes_an_info_xml() -> None:
    message = session().change_setting(['mode'], 'b')
    assert isinstance(message, InfoXml) and message.path == ('detector_settings', 'mode')
    assert ">str('b')<" in message.xml  # PyMoDAQ's typed list values
