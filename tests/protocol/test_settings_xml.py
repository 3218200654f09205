"""The client settings XML parser: PyMoDAQ's format, and nothing is ever evaluated."""
from __future__ import annotations

import pytest

from tcpbridge.protocol.errors import MalformedPayload
from tcpbridge.protocol.settings_xml import (
    find_param,
    parameter_to_xml,
    parse_parameter_xml,
    parse_settings_xml,
    settings_to_xml,
)

PARAMS = [
    {'name': 'exposure', 'title': 'Exposure (ms):', 'type': 'float', 'value': 12.5, 'min': 0.0},
    {'name': 'gain', 'title': 'Gain', 'type': 'int', 'value': 3, 'limits': [1, 2, 3]},
    {'name': 'cooling', 'title': 'Cooling', 'type': 'bool', 'value': True},
    {'name': 'mode', 'title': 'Mode', 'type': 'list', 'value': 'fast', 'limits': ['fast', 'slow']},
    {'name': 'roi', 'title': 'ROI', 'type': 'group', 'children': [
        {'name': 'x0', 'title': 'x0', 'type': 'int', 'value': 10, 'readonly': True},
        {'name': 'label', 'title': 'Label', 'type': 'str', 'value': 'µ-spot <1>'}]},
]


def test_round_trip() -> None:
    root, params = parse_settings_xml(settings_to_xml('detector_settings', PARAMS))
    assert root == 'detector_settings'
    for path, value in [(['exposure'], 12.5), (['gain'], 3), (['cooling'], True), (['mode'], 'fast'),
                        (['roi', 'x0'], 10), (['roi', 'label'], 'µ-spot <1>')]:
        assert find_param(params, path)['value'] == value
    assert find_param(params, ['roi', 'x0'])['readonly'] is True
    assert find_param(params, ['mode'])['limits'] == ['fast', 'slow']
    assert find_param(params, ['exposure'])['min'] == 0.0


def test_units_are_written_as_the_suffix() -> None:
    xml = parameter_to_xml({'name': 'exposure', 'type': 'float', 'value': 2.0, 'units': 'ms'})
    assert parse_parameter_xml(xml)['suffix'] == 'ms'


def test_pymodaq_list_values_are_typed_literals() -> None:
    assert parameter_to_xml({'name': 'mode', 'type': 'list', 'value': 'fast'}).endswith(">str('fast')</mode>")
    assert parse_parameter_xml('<n type="list">int(3)</n>')['value'] == 3


@pytest.mark.parametrize('xml', [
    # what PyMoDAQ's ioxml would eval() (docs/protocol.rst §4.13)
    '<s type="group"><a type="list" limits="__import__(\'os\').system(\'touch /tmp/pwned\')">x</a></s>',
    '<s type="group"><a type="list">str(__import__("os").getcwd())</a></s>',
    '<s type="group"><a type="float" min="().__class__">1</a></s>',
])
def test_code_in_xml_is_never_run(xml: str) -> None:
    with pytest.raises(MalformedPayload, match='not a plain'):
        parse_settings_xml(xml)


def test_entities_are_refused() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            '<s type="group"><x type="str">&b;</x></s>')
    with pytest.raises(MalformedPayload, match='DTD'):
        parse_settings_xml(bomb)


def test_unknown_types_become_read_only_strings() -> None:
    _, params = parse_settings_xml('<s type="group"><t type="table_view">{"module": "os"}</t></s>')
    assert params == [{'name': 't', 'title': 't', 'type': 'str', 'readonly': True, 'value': '{"module": "os"}'}]


@pytest.mark.parametrize('xml', ['<s><a type="int">twelve</a></s>', '<s><a', ''])
def test_invalid_xml_and_values(xml: str) -> None:
    with pytest.raises(MalformedPayload):
        parse_settings_xml(xml)
