"""The client's side, sans I/O: hello, settings out and in, decoding of server commands."""
from __future__ import annotations

from tcpbridge import GRABBER
from tcpbridge.wire import (
    Accepted,
    AuthChallenge,
    AuthRequest,
    AuthResponse,
    ClientSession,
    ClientType,
    Decoder,
    Encoder,
    Infos,
    InfoXml,
    Refused,
    SendData,
    SetInfo,
    StatusRequest,
    parse_settings_xml,
)

HELLO = Encoder().encode_bytes(ClientType(GRABBER))

SETTINGS = [{'name': 'exposure', 'type': 'float', 'value': 10.0},
            {'name': 'mode', 'type': 'list', 'value': 'a', 'limits': ['a', 'b']},
            {'name': 'serial', 'type': 'str', 'value': 'X1', 'readonly': True}]


def session() -> ClientSession:
    return ClientSession(GRABBER, 'detector_settings', SETTINGS)


def test_the_hello_then_the_status_request_then_the_settings() -> None:
    messages = Decoder().feed(b''.join(bytes(b) for b in session().connection_made()))
    assert messages[:2] == [ClientType(GRABBER), StatusRequest()] and isinstance(messages[2], Infos)
    root, params = parse_settings_xml(messages[2].xml)
    assert root == 'detector_settings' and [p['name'] for p in params] == ['exposure', 'mode', 'serial']


def test_no_status_request_for_servers_that_do_not_know_it() -> None:
    quiet = ClientSession(GRABBER, 'detector_settings', SETTINGS, confirm_acceptance=False)
    messages = Decoder().feed(b''.join(bytes(b) for b in quiet.connection_made()))
    assert messages[0] == ClientType(GRABBER) and isinstance(messages[1], Infos) and len(messages) == 2


def test_with_a_secret_the_status_request_follows_the_response() -> None:
    client = ClientSession(GRABBER, 'detector_settings', SETTINGS, secret='s3cret')
    first = Decoder().feed(b''.join(bytes(b) for b in client.connection_made()))
    assert first == [ClientType(GRABBER), AuthRequest()]
    decoder = Decoder()
    decoder.feed(HELLO)
    then = decoder.feed(b''.join(bytes(b) for b in client.answer_challenge(AuthChallenge('ab' * 32))))
    assert isinstance(then[0], AuthResponse) and then[1] == StatusRequest() and isinstance(then[2], Infos)


def test_the_plugins_answers_are_decoded() -> None:
    client = session()
    client.connection_made()
    data = memoryview(Encoder().encode_bytes(Accepted('in control')) + Encoder().encode_bytes(Refused('too many')))
    got = []
    while data.nbytes:
        buffer = client.receive_buffer()
        n = min(buffer.nbytes, data.nbytes)
        buffer[:n] = data[:n]
        data = data[n:]
        got += client.bytes_received(n)
    assert got == [Accepted('in control'), Refused('too many')]


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
