"""Every hex example of docs/protocol.rst §5 encoded byte for byte and decoded back, in both dialects."""
from __future__ import annotations

import numpy as np
import pytest

from tcpbridge import Dialect, DwaLayout
from tcpbridge.protocol.settings_xml import parse_settings_xml, settings_to_xml
from tcpbridge.wire import (
    ClientType,
    DataToExport,
    DataWithAxes,
    Decoder,
    Done,
    Encoder,
    Infos,
    MoveAbs,
    PositionIs,
    SetInfo,
    Side,
    data_actuator,
)
from wire_examples import (
    ACTUATOR_HELLO,
    ACTUATOR_INFOS_XML,
    DONE_LEGACY,
    DONE_PYMODAQ4,
    GRABBER_HELLO,
    MOVE_ABS_LEGACY,
    MOVE_ABS_LEGACY_INT,
    MOVE_ABS_PYMODAQ4,
    POSITION_IS_LEGACY,
    POSITION_IS_PYMODAQ4,
    SET_INFO,
    SET_INFO_XML,
    TS,
)

LEGACY, PYMODAQ4 = Encoder(Dialect.LEGACY), Encoder(Dialect.PYMODAQ4)


def fixed_actuator(value: float = 1.5) -> DataWithAxes:
    position = data_actuator(value)
    position.timestamp = TS
    return position


def example_dte() -> DataToExport:
    dwa = DataWithAxes('mydata', data=[np.array([1.0, 2.0])], origin='mydte', timestamp=TS)
    return DataToExport('mydte', data=[dwa], timestamp=TS)


def decode_one(data: bytes, role: Side, hello: bool = False):
    decoder = Decoder(role)
    if role is Side.SERVER and not hello:
        decoder.feed(GRABBER_HELLO)
    messages = decoder.feed(data)
    assert len(messages) == 1 and not decoder.in_message
    return messages[0]


def test_client_type() -> None:
    assert LEGACY.encode_bytes(ClientType('GRABBER')) == GRABBER_HELLO
    assert decode_one(GRABBER_HELLO, Side.SERVER, hello=True) == ClientType('GRABBER')


def test_actuator_hello_is_what_pymodaq_clients_send() -> None:
    xml = settings_to_xml('move_settings', [{'name': 'units', 'title': 'Units:', 'type': 'str', 'value': 'mm'}])
    assert xml == ACTUATOR_INFOS_XML
    assert LEGACY.encode_bytes(ClientType('ACTUATOR')) + LEGACY.encode_bytes(Infos(xml)) == ACTUATOR_HELLO
    assert len(ACTUATOR_HELLO) == 212
    root, params = parse_settings_xml(xml)
    assert root == 'move_settings' and params[0]['name'] == 'units' and params[0]['value'] == 'mm'


def test_done_legacy() -> None:
    assert len(DONE_LEGACY) == 56
    assert LEGACY.encode_bytes(Done([np.array([1.0, 2.0])])) == DONE_LEGACY
    message = decode_one(DONE_LEGACY, Side.SERVER)
    assert message.dialect is Dialect.LEGACY
    assert len(message.data) == 1 and message.data[0].dtype == np.dtype('<f8')
    np.testing.assert_array_equal(message.data[0], [1.0, 2.0])


def test_done_pymodaq4() -> None:
    assert len(DONE_PYMODAQ4) == 230
    assert PYMODAQ4.encode_bytes(Done(example_dte())) == DONE_PYMODAQ4
    message = decode_one(DONE_PYMODAQ4, Side.SERVER)
    assert message.dialect is Dialect.PYMODAQ4 and message.layout is DwaLayout.V4_4
    assert message.data == example_dte()


@pytest.mark.parametrize('position, expected', [(1.5, MOVE_ABS_LEGACY), (2, MOVE_ABS_LEGACY_INT)])
def test_move_abs_legacy(position: object, expected: bytes) -> None:
    assert LEGACY.encode_bytes(MoveAbs(position)) == expected
    message = decode_one(expected, Side.CLIENT)
    assert isinstance(message, MoveAbs) and message.dialect is Dialect.LEGACY
    assert message.value == position and type(message.value) is type(position)


def test_move_abs_pymodaq4() -> None:
    assert len(MOVE_ABS_PYMODAQ4) == 173
    assert PYMODAQ4.encode_bytes(MoveAbs(fixed_actuator())) == MOVE_ABS_PYMODAQ4
    message = decode_one(MOVE_ABS_PYMODAQ4, Side.CLIENT)
    assert message.dialect is Dialect.PYMODAQ4 and message.value == 1.5
    assert message.position == fixed_actuator()


def test_move_abs_pymodaq4_layout_4_3_has_no_units() -> None:
    encoded = Encoder(Dialect.PYMODAQ4, DwaLayout.V4_2).encode_bytes(MoveAbs(fixed_actuator()))
    units_at = 12 + 16 + 19 + 12  # command, class, timestamp, name
    assert MOVE_ABS_PYMODAQ4[units_at:units_at + 4] == bytes(4)
    assert encoded == MOVE_ABS_PYMODAQ4[:units_at] + MOVE_ABS_PYMODAQ4[units_at + 4:]
    assert len(encoded) - 12 == 157
    message = decode_one(encoded, Side.CLIENT)
    assert message.layout is DwaLayout.V4_2 and message.value == 1.5


def test_position_is() -> None:
    assert len(POSITION_IS_LEGACY) == 34 and len(POSITION_IS_PYMODAQ4) == 176
    assert LEGACY.encode_bytes(PositionIs(1.5)) == POSITION_IS_LEGACY
    assert PYMODAQ4.encode_bytes(PositionIs(fixed_actuator())) == POSITION_IS_PYMODAQ4
    # a position given as a DataActuator goes out as a bare scalar in the legacy dialect
    assert LEGACY.encode_bytes(PositionIs(fixed_actuator())) == POSITION_IS_LEGACY
    legacy, pymodaq4 = decode_one(POSITION_IS_LEGACY, Side.SERVER), decode_one(POSITION_IS_PYMODAQ4, Side.SERVER)
    assert (legacy.dialect, legacy.value) == (Dialect.LEGACY, 1.5)
    assert (pymodaq4.dialect, pymodaq4.value, pymodaq4.units) == (Dialect.PYMODAQ4, 1.5, '')


def test_set_info() -> None:
    assert len(SET_INFO) == 148
    message = SetInfo(('exposure',), SET_INFO_XML)
    assert LEGACY.encode_bytes(message) == SET_INFO == PYMODAQ4.encode_bytes(message)
    assert decode_one(SET_INFO, Side.CLIENT) == message


def test_pymodaq4_data_from_plugins_extras_use_bool_tag() -> None:
    dwa = DataWithAxes('d', data=[np.array([1.0])], class_name='DataFromPlugins',
                       extra_attributes={'do_plot': True, 'do_save': True}, timestamp=TS)
    encoded = PYMODAQ4.encode_bytes(Done(DataToExport('x', data=[dwa], timestamp=TS)))
    bool_item = bytes.fromhex('00 00 00 04') + b'bool' + bytes.fromhex('00 00 00 03 7c 62 31 00 00 00 01 01')
    assert encoded.endswith(bool_item * 2)
    # PyMoDAQ <= 4.4.6 wrote them tagged 'scalar': both are read as bools
    old = encoded.replace(bytes.fromhex('00 00 00 04') + b'bool', bytes.fromhex('00 00 00 06') + b'scalar')
    decoded = decode_one(old, Side.SERVER).data.data[0]
    assert decoded.extra_attributes == {'do_plot': True, 'do_save': True}
