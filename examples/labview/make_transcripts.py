"""Writes the session transcripts of this folder from tcpbridge's own encoder.

    python examples/labview/make_transcripts.py        # rewrite transcripts/*.txt

A test checks that the files are what this script produces (they stay current with the encoder).
Each transcript can be played against the TCPServer plugins with ``tcpbridge replay FILE --port P``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from tcpbridge import Dialect
from tcpbridge.tools.transcript import CLIENT, SERVER, render
from tcpbridge.wire import (
    Axis,
    CheckPosition,
    ClientType,
    DataToExport,
    DataWithAxes,
    Done,
    Encoder,
    Infos,
    MoveAbs,
    MoveDone,
    PositionIs,
    Quit,
    SendData,
    data_actuator,
    settings_to_xml,
)

FOLDER = Path(__file__).parent / 'transcripts'
TIMESTAMP = 1700000000.0  # fixed, so that the bytes the client sends are reproducible
DETECTOR_XML = settings_to_xml('detector_settings', [
    {'name': 'exposure', 'title': 'Exposure (ms):', 'type': 'float', 'value': 10.0}])
ACTUATOR_XML = settings_to_xml('move_settings', [{'name': 'units', 'title': 'Units:', 'type': 'str', 'value': 'mm'}])

Session = List[Tuple[str, str, list]]  # (direction, explanation, messages)


def spectrum(frame: int) -> DataToExport:
    dwa = DataWithAxes('spectrum', data=[np.arange(4.0) + frame], class_name='DataFromPlugins', units='counts',
                       labels=['intensity'], axes=[Axis('wavelength', 'nm', np.linspace(500.0, 530.0, 4), 0)],
                       extra_attributes={'do_plot': True, 'do_save': True}, timestamp=TIMESTAMP)
    return DataToExport('spectrometer', data=[dwa], timestamp=TIMESTAMP)


def position(value: float) -> DataWithAxes:
    dwa = data_actuator(value, 'mm')
    dwa.timestamp = TIMESTAMP
    return dwa


SESSIONS: Dict[str, Tuple[Dialect, str, Session]] = {
    'grabber_legacy': (Dialect.LEGACY, 'A GRABBER (detector) client, legacy dialect: lists of typed arrays.', [
        (CLIENT, 'hello: the client type, then (optional) its settings as PyMoDAQ parameter XML',
         [ClientType('GRABBER'), Infos(DETECTOR_XML)]),
        (SERVER, 'the user grabs: the plugin asks for data', [SendData('1D')]),
        (CLIENT, "the answer: 'Done' + a list of 1 array (little-endian float64)", [Done([np.arange(4.0) + 1])]),
        (SERVER, 'the next grab', [SendData('1D')]),
        (CLIENT, "the same with LabVIEW's native byte order: dtype '>f8' (big-endian) is allowed",
         [Done([(np.arange(4.0) + 2).astype('>f8')])]),
        (CLIENT, 'leaving: Quit, then close the connection', [Quit()]),
    ]),
    'actuator_legacy': (Dialect.LEGACY, 'An ACTUATOR (stage) client, legacy dialect: positions are typed scalars.', [
        (CLIENT, "hello, and the settings: a 'units' parameter gives the axis units to the plugin",
         [ClientType('ACTUATOR'), Infos(ACTUATOR_XML)]),
        (SERVER, 'right after the hello the plugin asks where the stage is (this tells it the dialect)',
         [CheckPosition()]),
        (CLIENT, "the answer: 'position_is' + a scalar", [PositionIs(0.0)]),
        (SERVER, 'the user moves to 1.5 mm', [MoveAbs(1.5)]),
        (CLIENT, "when the stage is there: 'move_done' + the position (here big-endian '>f8', as LabVIEW "
                 "flattens it)", [MoveDone(np.array(1.5, dtype='>f8'))]),
        (CLIENT, 'leaving', [Quit()]),
    ]),
    'grabber_pymodaq4': (Dialect.PYMODAQ4, "A GRABBER client in PyMoDAQ 4's dialect: a DataToExport with axes, "
                                           "labels and units (4.4 layout).", [
        (CLIENT, 'hello and settings (the same in both dialects)', [ClientType('GRABBER'), Infos(DETECTOR_XML)]),
        (SERVER, 'the user grabs', [SendData('1D')]),
        (CLIENT, "'Done' + a DataToExport holding one DataFromPlugins", [Done(spectrum(1))]),
        (CLIENT, 'leaving', [Quit()]),
    ]),
    'actuator_pymodaq4': (Dialect.PYMODAQ4, "An ACTUATOR client in PyMoDAQ 4's dialect: positions are DataActuator "
                                            "objects with units (4.4 layout).", [
        (CLIENT, 'hello and settings', [ClientType('ACTUATOR'), Infos(ACTUATOR_XML)]),
        (SERVER, 'the position query sent after the hello', [CheckPosition()]),
        (CLIENT, "'position_is' + a DataActuator (this tells the plugin the dialect)", [PositionIs(position(0.0))]),
        (SERVER, 'the user moves to 1.5 mm: a DataActuator in the axis units (timestamp: any bytes)',
         [MoveAbs(position(1.5))]),
        (CLIENT, "'move_done' + a DataActuator", [MoveDone(position(1.5))]),
        (CLIENT, 'leaving', [Quit()]),
    ]),
}


def transcript(name: str) -> str:
    """The text of one transcript, from the encoder."""
    dialect, title, session = SESSIONS[name]
    encoder = Encoder(dialect)
    lines = [f'# {name}: {title}',
             '# > client to server (what your program sends), < server to client (what the plugin sends).',
             '# Play it against the plugin: tcpbridge replay THIS_FILE --host <PC running PyMoDAQ> --port <port>',
             '']
    hello = True
    for direction, explanation, messages in session:
        lines.append(f'# {explanation}')
        data = b''.join(encoder.encode_bytes(m) for m in messages)
        lines.extend(render(direction, data, hello=hello and direction == CLIENT))
        hello = hello and direction != CLIENT
        lines.append('')
    return '\n'.join(lines)


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for name in SESSIONS:
        (FOLDER / f'{name}.txt').write_text(transcript(name), encoding='utf-8')
        print(f'wrote {FOLDER / name}.txt')


if __name__ == '__main__':
    main()
