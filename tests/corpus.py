"""Valid message streams of every dialect and both directions, and the mutations that turn them into
the bad input a network delivers (used by the fuzz tests and ``benchmarks/stress.py``)."""
from __future__ import annotations

import random
from typing import List, Optional, Tuple

import numpy as np

from tcpbridge import ACTUATOR, GRABBER, Dialect, Limits
from tcpbridge.wire import (
    AuthChallenge,
    AuthRequest,
    AuthResponse,
    Axis,
    AxisInfo,
    CheckPosition,
    ClientType,
    DataToExport,
    DataWithAxes,
    Decoder,
    Done,
    Encoder,
    GetActuatorValue,
    Info,
    Infos,
    InfoXml,
    MoveAbs,
    MoveDone,
    MoveHome,
    MoveRel,
    PositionIs,
    Quit,
    ReceiveBudget,
    SendData,
    SetInfo,
    Side,
    StopMotion,
    data_actuator,
)

SETTINGS = ('<settings title="settings" type="group"><exposure title="Exposure:" type="float">1.5'
            '</exposure><mode title="Mode:" type="list" limits="[\'a\', \'b\']">a</mode></settings>')


def _dte() -> DataToExport:
    spectrum = DataWithAxes('spectrum', data=[np.linspace(0, 1, 16), np.ones(16)], class_name='DataFromPlugins',
                            units='V', labels=['a', 'b'], axes=[Axis('wavelength', 'nm', np.arange(16.0), 0)],
                            extra_attributes={'do_plot': True, 'do_save': False})
    image = DataWithAxes('image', data=[np.arange(12, dtype='<u2').reshape(3, 4)], class_name='DataFromPlugins')
    return DataToExport('camera', data=[spectrum, image])


def client_streams() -> List[Tuple[str, bytes]]:
    """(name, bytes a client sends: hello then messages), per dialect and type."""
    streams = []
    for dialect in ('legacy', 'pymodaq4', 'pymodaq5'):
        enc = Encoder(dialect)
        grabber = [ClientType(GRABBER), AuthRequest(), AuthResponse('0f' * 32), Infos(SETTINGS), Info('error', 'none'),
                   InfoXml(('settings', 'exposure'), '<exposure type="float">2.0</exposure>'),
                   Done([np.arange(6.0).reshape(2, 3)]) if dialect == 'legacy' else Done(_dte()),
                   Quit()]
        if dialect == 'legacy':
            grabber.insert(2, AxisInfo('x', np.arange(3.0), 'x', 'mm'))
        actuator = [ClientType(ACTUATOR), Infos(SETTINGS),
                    PositionIs(1.25 if dialect == 'legacy' else data_actuator(1.25, 'mm')),
                    MoveDone(2.5 if dialect == 'legacy' else data_actuator(2.5, 'mm')), Quit()]
        streams.append((f'grabber-{dialect}', b''.join(enc.encode_bytes(m) for m in grabber)))
        streams.append((f'actuator-{dialect}', b''.join(enc.encode_bytes(m) for m in actuator)))
    return streams


def server_streams() -> List[Tuple[str, bytes]]:
    """(name, bytes a server sends to a client) per dialect."""
    streams = []
    for dialect in ('legacy', 'pymodaq4', 'pymodaq5'):
        enc = Encoder(dialect)
        position = 3.0 if dialect == 'legacy' else data_actuator(3.0, 'mm')
        messages = [AuthChallenge('a5' * 32), SendData('2D'), MoveAbs(position), MoveRel(position), MoveHome(),
                    StopMotion(),
                    CheckPosition(), GetActuatorValue(), SetInfo(('settings', 'exposure'),
                                                                 '<exposure type="float">3</exposure>')]
        streams.append((f'server-{dialect}', b''.join(enc.encode_bytes(m) for m in messages)))
    # what a server sends an observer: the challenge, then copies of the controller's messages (pymodaq4)
    observed = [AuthChallenge('a5' * 32), Done(_dte()), PositionIs(data_actuator(1.5, 'mm')),
                MoveDone(data_actuator(2.0, 'mm')), Done(_dte())]
    streams.append(('observed-pymodaq4', b''.join(Encoder('pymodaq4').encode_bytes(m) for m in observed)))
    return streams


ROLES = {'client': Side.SERVER, 'server': Side.CLIENT, 'observed': Side.OBSERVER}


def decoder(name: str, limits: Optional[Limits] = None, budget: Optional[ReceiveBudget] = None) -> Decoder:
    """The decoder of stream ``name`` (``server-*`` streams are decoded by a client, ``observed-*``
    ones by an observer; a client of the pymodaq5 dialect knows it from the start, a server learns
    it from the hello)."""
    role = ROLES.get(name.split('-')[0], Side.SERVER)
    return Decoder(role, limits or Limits(), budget=budget,
                   dialect=Dialect.PYMODAQ5 if name == 'server-pymodaq5' else None)
#: values a length field is set to by the mutations: small, boundary and absurd
EXTREME_U32 = (0, 1, 2, 3, 4, 5, 7, 8, 12, 16, 255, 4096, 65535, 1 << 20, 1 << 30, (1 << 31) - 1, 1 << 31,
               (1 << 32) - 1)


#: dtype strings of the same item size, swapped for each other: valid bytes, wrong meaning
SAME_SIZE_DTYPES = (b'<f8', b'>f8', b'<c8', b'<i8', b'<u8', b'>i8')


def mutate(data: bytes, rng: random.Random, count: int = 0) -> bytes:
    """``data`` with 1-4 (or ``count``) mutations: bit flips, byte values, a U32 set to an extreme
    value at a field-aligned offset, insertions, deletions, duplicated slices, truncation, and a
    dtype string swapped for another of the same size (a complex timestamp, an integer position)."""
    out = bytearray(data)
    for _ in range(count or rng.randint(1, 4)):
        kind = rng.randrange(8)
        at = rng.randrange(len(out)) if out else 0
        if kind == 0 and out:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:
            out[at] = rng.choice((0, 1, 0x7f, 0x80, 0xff, rng.randrange(256)))
        elif kind == 2 and len(out) >= 4:
            at = min(at, len(out) - 4)
            out[at:at + 4] = rng.choice(EXTREME_U32).to_bytes(4, 'big')
        elif kind == 3:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 4 and out:
            del out[at:at + rng.randint(1, 16)]
        elif kind == 5 and out:
            out[at:at] = out[at:at + rng.randint(1, 64)]
        elif kind == 6:
            del out[at:]
        elif kind == 7:
            places = [i for i in range(len(out) - 2) if bytes(out[i:i + 3]) in SAME_SIZE_DTYPES]
            if places:
                where = rng.choice(places)
                out[where:where + 3] = rng.choice(SAME_SIZE_DTYPES)
    return bytes(out)


def chunks(data: bytes, rng: random.Random) -> List[bytes]:
    """``data`` cut at random places (single bytes to whole)."""
    pieces, at = [], 0
    while at < len(data):
        n = rng.choice((1, 2, 3, 7, 64, 1000, len(data)))
        pieces.append(data[at:at + n])
        at += n
    return pieces
