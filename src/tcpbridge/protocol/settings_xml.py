"""PyMoDAQ parameter-tree XML (the ``Infos`` / ``Info_xml`` / ``set_info`` payloads), parsed safely.

PyMoDAQ's own parser (``ioxml``) calls ``eval`` on client-supplied text (docs/protocol.rst §4.13).  This
module never evaluates anything: values are converted by type with ``int``/``float`` and
``ast.literal_eval`` of plain literals, only whitelisted types and attributes are kept, and DTDs
(hence entity expansion) are refused.  Parameters are plain dicts in the form PyMoDAQ's
``Parameter.create(children=...)`` takes: ``name``, ``type``, ``title``, ``value``, ``limits``,
``readonly``, ``visible``, ``suffix`` (``units`` is accepted for it when writing), ``children``.

XML format (docs/protocol.rst §2.1): element tag = parameter name; attributes ``type``, ``title``,
``visible``/``readonly``/``removable`` as '0'/'1', optional ``limits``; text = value (bools '0'/'1',
``list`` values written ``str('a')`` / ``int(3)``).
"""
from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .errors import MalformedPayload

Param = Dict[str, Any]

#: parameter types kept as they are; any other type is shown as a read-only string
VALUE_TYPES = ('bool', 'led', 'int', 'float', 'str', 'text', 'list', 'slide')
_BOOL_ATTRIBUTES = ('visible', 'readonly', 'removable', 'show_pb', 'expanded')
_TEXT_ATTRIBUTES = ('title', 'suffix', 'tip')
_NUMBER_ATTRIBUTES = ('min', 'max', 'step', 'decimals')
_TYPED_LIST_VALUE = re.compile(r'(str|int|float|bool)\((.*)\)', re.DOTALL)
_MAX_ELEMENTS = 10000
#: settings XML longer than this (UTF-8 bytes) is refused before it is parsed
MAX_XML_BYTES = 1 << 20
_MAX_DEPTH = 32


# -- parsing --------------------------------------------------------------------------------------

def _literal(text: str, what: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise MalformedPayload(f'{what} {text[:60]!r} is not a plain literal') from None


def _bool(text: Optional[str]) -> bool:
    return (text or '').strip().lower() in ('1', 'true')


def parse_value(ptype: str, text: Optional[str]) -> Any:
    """Convert the text of a parameter element to a Python value of type ``ptype``.

    Raises:
        MalformedPayload: text that is not a value of that type.
    """
    text = (text or '').strip()
    try:
        if ptype in ('bool', 'led'):
            return _bool(text)
        if ptype == 'int':
            return int(float(text)) if text else 0
        if ptype in ('float', 'slide'):
            return float(text) if text else 0.0
    except ValueError:
        raise MalformedPayload(f'{text[:60]!r} is not a valid {ptype} value') from None
    if ptype == 'list':
        match = _TYPED_LIST_VALUE.fullmatch(text)
        if match is None:
            return text
        kind, inner = match.groups()
        value = _literal(inner, 'list value')
        if not isinstance(value, (str, int, float, bool)):
            raise MalformedPayload(f'list value {text[:60]!r} is not a plain scalar')
        return value
    return text


def _element_to_param(element: ET.Element, depth: int) -> Param:
    if depth > _MAX_DEPTH:
        raise MalformedPayload(f'settings XML nested deeper than {_MAX_DEPTH} levels')
    ptype = element.get('type', 'str')
    param: Param = {'name': element.tag, 'title': element.get('title', element.tag)}
    for attribute in _BOOL_ATTRIBUTES:
        if attribute in element.attrib:
            param[attribute] = _bool(element.get(attribute))
    for attribute in _TEXT_ATTRIBUTES[1:]:
        if attribute in element.attrib:
            param[attribute] = element.get(attribute)
    for attribute in _NUMBER_ATTRIBUTES:
        if attribute in element.attrib:
            number = _literal(element.get(attribute, ''), attribute)
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                raise MalformedPayload(f'{attribute} of {element.tag!r} is not a number')
            param[attribute] = number
    if ptype == 'group' or len(element):
        param['type'] = 'group'
        param['children'] = [_element_to_param(child, depth + 1) for child in element]
        return param
    if ptype not in VALUE_TYPES:
        param.update(type='str', readonly=True)
        param['value'] = (element.text or '').strip()
        return param
    param['type'] = ptype
    param['value'] = parse_value(ptype, element.text)
    if 'limits' in element.attrib:
        limits = _literal(element.get('limits', ''), 'limits')
        if not isinstance(limits, (list, tuple)) or not all(
                isinstance(v, (str, int, float, bool)) for v in limits):
            raise MalformedPayload(f'limits of {element.tag!r} must be a list of plain values')
        param['limits'] = list(limits)
    return param


def _parse_root(text: str) -> ET.Element:
    if len(text) > MAX_XML_BYTES or len(text.encode('utf-8', 'surrogatepass')) > MAX_XML_BYTES:
        raise MalformedPayload(f'settings XML of {len(text.encode("utf-8", "surrogatepass"))} bytes refused: '
                               f'the limit is {MAX_XML_BYTES} bytes')
    if '<!DOCTYPE' in text or '<!ENTITY' in text:
        raise MalformedPayload('settings XML with a DTD or entities is refused')
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise MalformedPayload(f'settings XML does not parse: {error}') from None
    if sum(1 for _ in root.iter()) > _MAX_ELEMENTS:
        raise MalformedPayload(f'settings XML has more than {_MAX_ELEMENTS} elements')
    return root


def parse_settings_xml(text: str) -> Tuple[str, List[Param]]:
    """Parse an ``Infos`` XML: returns the root group name and its children as parameter dicts.

    Raises:
        MalformedPayload: XML that does not parse, has a DTD, or holds invalid values.
    """
    root = _parse_root(text)
    return root.tag, [_element_to_param(child, 1) for child in root]


def parse_parameter_xml(text: str) -> Param:
    """Parse the XML of one parameter (``set_info`` / ``Info_xml`` payload).

    Raises:
        MalformedPayload: as :func:`parse_settings_xml`.
    """
    return _element_to_param(_parse_root(text), 0)


# -- writing --------------------------------------------------------------------------------------

def _value_text(ptype: str, value: Any) -> str:
    if ptype in ('bool', 'led'):
        return '1' if value else '0'
    if ptype == 'list' and isinstance(value, (str, int, float, bool)) and value is not None:
        return f'{type(value).__name__}({value!r})'
    return '' if value is None else str(value)


def _param_element(param: Param) -> ET.Element:
    ptype = param.get('type', 'str')
    element = ET.Element(param['name'], {'type': ptype, 'title': str(param.get('title', param['name']))})
    for attribute in ('visible', 'removable', 'readonly'):
        element.set(attribute, '1' if param.get(attribute, attribute == 'visible') else '0')
    for attribute in ('show_pb', 'expanded'):
        if attribute in param:
            element.set(attribute, '1' if param[attribute] else '0')
    for attribute in _TEXT_ATTRIBUTES[1:]:
        if attribute in param:
            element.set(attribute, str(param[attribute]))
    if 'units' in param and 'suffix' not in param:  # PyMoDAQ shows units as the suffix of a value
        element.set('suffix', str(param['units']))
    for attribute in _NUMBER_ATTRIBUTES:
        if attribute in param:
            element.set(attribute, repr(param[attribute]))
    if 'limits' in param:
        element.set('limits', repr(list(param['limits'])))
    if ptype == 'group':
        element.extend(_param_element(child) for child in param.get('children', []))
    else:
        element.text = _value_text(ptype, param.get('value'))
    return element


def parameter_to_xml(param: Param) -> str:
    """XML of one parameter dict, as PyMoDAQ writes it (e.g. for ``Info_xml``)."""
    return ET.tostring(_param_element(param), encoding='unicode')


def settings_to_xml(root_name: str, params: Sequence[Param]) -> str:
    """``Infos`` XML: a group ``root_name`` holding ``params`` (PyMoDAQ's parameter_to_xml_string)."""
    return parameter_to_xml({'name': root_name, 'type': 'group', 'title': root_name,
                             'children': list(params)})


def find_param(params: Sequence[Param], path: Sequence[str]) -> Optional[Param]:
    """The parameter at ``path`` (names from the top level down) in a list of dicts, or None."""
    children: Sequence[Param] = params
    found: Optional[Param] = None
    for name in path:
        found = next((p for p in children if p.get('name') == name), None)
        if found is None:
            return None
        children = found.get('children', [])
    return found
