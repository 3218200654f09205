"""The hex examples of ``docs/protocol.rst``, generated from tcpbridge's own encoder and annotated
field by field by its decoder's grammar.

    python docs/protocol_examples.py          # rewrite the example blocks of docs/protocol.rst
    python docs/protocol_examples.py --check  # exit 1 if they are not what the encoder writes

In the document each example sits between ``.. example: NAME`` and ``.. end of example``;
``tests/tools/test_protocol_doc.py`` checks that every block is current and that its bytes decode
to the message it shows.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from tcpbridge.tools.transcript import CLIENT, SERVER, render
from tcpbridge.wire import (
    Accepted,
    Axis,
    CheckPosition,
    ClientType,
    DataToExport,
    DataWithAxes,
    Done,
    Encoder,
    Info,
    Infos,
    InfoXml,
    Message,
    MoveAbs,
    MoveDone,
    MoveHome,
    PositionIs,
    Quit,
    Refused,
    SendData,
    SetInfo,
    StatusRequest,
    StopMotion,
    data_actuator,
)

DOCUMENT = Path(__file__).parent / 'protocol.rst'
TIMESTAMP = 1700000000.0  # fixed: the examples are reproducible
BLOCK = re.compile(r'^(?P<indent>[ ]*)\.\. example: (?P<name>[\w-]+)\n.*?^[ ]*\.\. end of example\n',
                   re.DOTALL | re.MULTILINE)


def _actuator(value: float) -> DataWithAxes:
    dwa = data_actuator(value, 'mm')
    dwa.timestamp = TIMESTAMP
    return dwa


def _spectrum() -> DataToExport:
    dwa = DataWithAxes('spectrum', data=[np.array([1.0, 2.0])], class_name='DataFromPlugins', units='V',
                       labels=['intensity'], axes=[Axis('wavelength', 'nm', np.array([500.0, 510.0]), 0)],
                       extra_attributes={'do_plot': True, 'do_save': True}, timestamp=TIMESTAMP)
    return DataToExport('spectrometer', data=[dwa], timestamp=TIMESTAMP)


#: name -> (direction, dialect, message): ``>`` client to server, ``<`` server to client
EXAMPLES: Dict[str, Tuple[str, str, Message]] = {
    'hello': (CLIENT, 'legacy', ClientType('GRABBER')),
    'infos': (CLIENT, 'legacy', Infos('<settings type="group" title="settings"><exposure type="float" '
                                      'title="Exposure">10.0</exposure></settings>')),
    'send-data': (SERVER, 'legacy', SendData('1D')),
    'done-legacy': (CLIENT, 'legacy', Done([np.array([1.0, 2.0])])),
    'done-legacy-big-endian': (CLIENT, 'legacy', Done([np.array([[1, 2], [3, 4]], dtype='>u2')])),
    'done-pymodaq4': (CLIENT, 'pymodaq4', Done(_spectrum())),
    'move-abs-legacy': (SERVER, 'legacy', MoveAbs(1.5)),
    'move-abs-pymodaq4': (SERVER, 'pymodaq4', MoveAbs(_actuator(1.5))),
    'move-done-legacy': (CLIENT, 'legacy', MoveDone(np.array(1.5, dtype='>f8'))),
    'position-is-pymodaq4': (CLIENT, 'pymodaq4', PositionIs(_actuator(1.5))),
    'check-position': (SERVER, 'legacy', CheckPosition()),
    'move-home': (SERVER, 'legacy', MoveHome()),
    'stop-motion': (SERVER, 'legacy', StopMotion()),
    'set-info': (SERVER, 'legacy', SetInfo(('settings', 'exposure'),
                                           '<exposure type="float" title="Exposure">20.0</exposure>')),
    'info-xml': (CLIENT, 'legacy', InfoXml(('settings', 'exposure'),
                                           '<exposure type="float" title="Exposure">5.0</exposure>')),
    'info': (CLIENT, 'legacy', Info('temperature', '-70 C')),
    'quit': (CLIENT, 'legacy', Quit()),
    'status-request': (CLIENT, 'legacy', StatusRequest()),
    'accepted': (SERVER, 'legacy', Accepted('in control')),
    'refused': (SERVER, 'legacy', Refused('too many clients')),
}


def example_bytes(name: str) -> bytes:
    direction, dialect, message = EXAMPLES[name]
    return Encoder(dialect).encode_bytes(message)


def example_block(name: str) -> str:
    """The reST of one example: a literal block of annotated hex lines."""
    direction, dialect, message = EXAMPLES[name]
    lines = render(direction, example_bytes(name), hello=isinstance(message, ClientType))
    # the document shows real bytes: render() writes the server's timestamps as '..' for replay
    data = example_bytes(name).hex(' ').split()
    hexes = iter(data)
    exact = []
    for line in lines:
        head, _, note = line.partition('#')
        fields = head.split()
        fields[1:] = [next(hexes) for _ in fields[1:]]
        exact.append((' '.join(fields).ljust(2 + 3 * 16) + (f' # {note.strip()}' if note else '')).rstrip())
    return '.. code-block:: text\n\n' + ''.join(f'    {line}\n' for line in exact) + '\n'


def update(text: str) -> str:
    """``text`` with every example block regenerated (indented as its marker, e.g. inside a list).

    Raises:
        KeyError: an example name that :data:`EXAMPLES` does not have.
    """
    def block(match: re.Match) -> str:
        indent, name = match.group('indent'), match.group('name')
        body = ''.join(f'{indent}{line}\n' if line else '\n' for line in example_block(name).split('\n')[:-1])
        return f'{indent}.. example: {name}\n\n{body}{indent}.. end of example\n'
    return BLOCK.sub(block, text)


def names_in(text: str) -> List[str]:
    return [m.group('name') for m in BLOCK.finditer(text)]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true', help='only check; exit 1 if a block is stale')
    args = parser.parse_args(argv)
    text = DOCUMENT.read_text(encoding='utf-8')
    fresh = update(text)
    if args.check:
        if fresh != text:
            print(f'{DOCUMENT} has stale examples: run python {Path(__file__).name}', file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(fresh, encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
