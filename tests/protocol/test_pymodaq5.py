"""The pymodaq5 dialect against real PyMoDAQ 5.1.13 sessions (``captures/pymodaq5``): every message a
5.1.13 module sent is decoded whatever the chunking, every message its server sent too, and what we
decode re-encodes to the same bytes (our server writes what theirs wrote)."""
from __future__ import annotations

import random
import re
import tracemalloc
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
from corpus import chunks

from tcpbridge import ACTUATOR, GRABBER, Dialect, Limits
from tcpbridge.wire import (
    CheckPosition,
    ClientType,
    DataToExport,
    DataWithAxes,
    Decoder,
    Done,
    Encoder,
    GetActuatorValue,
    Infos,
    InfoXml,
    InvalidDtype,
    ListTooLong,
    MalformedPayload,
    MoveAbs,
    MoveDone,
    MoveHome,
    MoveRel,
    NestingTooDeep,
    PayloadTooLarge,
    PositionIs,
    ProtocolError,
    SendData,
    SetInfo,
    Side,
    UnknownCommand,
    UnknownTag,
)

CAPTURES = Path(__file__).parent / 'captures' / 'pymodaq5'
_HEADER = re.compile(r'## #(\d+) (c2s|s2c) .*wire_bytes=(\d+) type=(\S+)')
_HEX = re.compile(r'    [0-9a-f]{8}  ((?:[0-9a-f]{2} ?)+)\s*\|')


def capture(name: str) -> Dict[str, List[bytes]]:
    """The messages of a capture file by direction (``c2s``: module -> server), in order."""
    out: Dict[str, List[bytes]] = {'c2s': [], 's2c': []}
    current = None
    for line in (CAPTURES / name).read_text(encoding='utf-8').splitlines():
        header = _HEADER.match(line)
        if header:
            current = bytearray()
            out[header[2]].append(current)
            continue
        hexline = _HEX.match(line)
        if hexline and current is not None:
            current += bytes.fromhex(hexline[1].replace(' ', ''))
    return {direction: [bytes(m) for m in messages] for direction, messages in out.items()}


def group(decoded: list, envelopes: List[bytes]) -> List[bytes]:
    """The wire bytes of each decoded message: the envelopes, grouped as the messages took them."""
    out, at = [], 0
    for message in decoded:
        n = 1 + {Done: 1, PositionIs: 1, MoveDone: 1, MoveAbs: 1, MoveRel: 1, Infos: 1, InfoXml: 2,
                 SetInfo: 2}.get(type(message), 0)
        out.append(b''.join(envelopes[at:at + n]))
        at += n
    assert at == len(envelopes)
    return out


FILES = ['move_full2.txt', 'viewer0D_full.txt', 'viewer1D_full.txt']


@pytest.mark.parametrize('name', FILES)
def test_module_messages_decode_in_any_chunking_and_re_encode_identically(name: str) -> None:
    stream = capture(name)['c2s']
    data = b''.join(stream)
    whole = Decoder(Side.SERVER).feed(data)
    assert isinstance(whole[0], ClientType) and whole[0].dialect is Dialect.PYMODAQ5
    rng = random.Random(name)
    for _ in range(10):
        decoder = Decoder(Side.SERVER)
        assert [m for piece in chunks(data, rng) for m in decoder.feed(piece)] == whole
    encoder = Encoder(Dialect.PYMODAQ5)
    for message, wire in zip(whole, group(whole, stream)):
        assert encoder.encode_bytes(message) == wire, type(message).__name__


@pytest.mark.parametrize('name', FILES)
def test_server_messages_decode_and_our_encoder_writes_the_same_bytes(name: str) -> None:
    stream = capture(name)['s2c']
    decoded = Decoder(Side.CLIENT, dialect=Dialect.PYMODAQ5).feed(b''.join(stream))
    assert decoded
    encoder = Encoder(Dialect.PYMODAQ5)
    for message, wire in zip(decoded, group(decoded, stream)):
        assert encoder.encode_bytes(message) == wire, type(message).__name__


def test_what_the_move_session_says() -> None:
    module = Decoder(Side.SERVER).feed(b''.join(capture('move_full2.txt')['c2s']))
    assert module[0] == ClientType(ACTUATOR)
    assert isinstance(module[1], Infos) and module[1].xml.startswith('<move_settings type="group"')
    assert module[2] == InfoXml(('move_settings', 'tau'), module[2].xml) and '<tau type="int"' in module[2].xml
    positions = [m for m in module if isinstance(m, (PositionIs, MoveDone))]
    assert positions and all(m.dialect is Dialect.PYMODAQ5 and m.units == 'µm' for m in positions)
    assert isinstance(positions[0].position, DataWithAxes) and positions[0].position.class_name == 'DataActuator'
    server = Decoder(Side.CLIENT, dialect=Dialect.PYMODAQ5).feed(b''.join(capture('move_full2.txt')['s2c']))
    kinds = [type(m) for m in server]
    assert kinds == [SetInfo, MoveAbs, MoveRel, MoveHome, GetActuatorValue, CheckPosition]
    assert server[0].path == ('tau',)  # the 5.1.13 server's path has no root (docs/protocol.rst §4.12: ours has)
    assert server[1].value == pytest.approx(server[1].position.value) and server[1].units == 'µm'


def test_what_the_1d_viewer_sends() -> None:
    module = Decoder(Side.SERVER).feed(b''.join(capture('viewer1D_full.txt')['c2s']))
    assert module[0] == ClientType(GRABBER)
    done = [m for m in module if isinstance(m, Done)]
    assert len(done) == 2 and all(isinstance(m.data, DataToExport) for m in done)
    dwa = done[0].data.data[0]
    assert dwa.class_name == 'DataFromPlugins' and dwa.dim == 'Data1D'
    assert dwa.axes and dwa.axes[0].data.shape == dwa.data[0].shape
    assert set(dwa.extra_attributes) == {'do_plot', 'do_save'}
    server = Decoder(Side.CLIENT, dialect=Dialect.PYMODAQ5).feed(b''.join(capture('viewer1D_full.txt')['s2c']))
    assert SendData('1D') in server


def test_large_array_is_received_without_copy_and_sent_zero_copy() -> None:
    image = np.arange(512 * 512, dtype='<u2').reshape(512, 512)
    dte = DataToExport('cam', data=[DataWithAxes('frame', data=[image], class_name='DataFromPlugins')])
    encoder = Encoder(Dialect.PYMODAQ5)
    buffers = encoder.encode(Done(dte))
    assert any(isinstance(b, memoryview) and b.obj is not None and b.nbytes == image.nbytes for b in buffers)
    decoder = Decoder(Side.SERVER)
    decoder.feed(encoder.encode_bytes(ClientType(GRABBER)))
    received = decoder.feed(b''.join(buffers))[0].data.data[0].data[0]
    np.testing.assert_array_equal(received, image)
    assert received.base is not None and not received.flags.owndata


@pytest.mark.parametrize('mutation, error', [
    (lambda b: b[:4] + (int.from_bytes(b[4:8], 'big') + 5).to_bytes(4, 'big') + b[8:], ProtocolError),
    (lambda b: (len(b) - 4 + 100).to_bytes(4, 'big') + b[4:], ProtocolError),
    (lambda b: (0xFFFFFFF0).to_bytes(4, 'big') + b[4:], PayloadTooLarge),
])
def test_envelopes_bound_their_fields(mutation, error) -> None:
    """A length that disagrees with its envelope, or an absurd one, is an error before allocation."""
    encoder = Encoder(Dialect.PYMODAQ5)
    decoder = Decoder(Side.SERVER, Limits(max_payload_bytes=1 << 20))
    decoder.feed(encoder.encode_bytes(ClientType(GRABBER)))
    infos = encoder.encode_bytes(Infos('<a/>'))
    command_length = int.from_bytes(infos[:4], 'big') + 4
    with pytest.raises(error):
        decoder.feed(infos[:command_length] + mutation(infos[command_length:]) + b'\x00' * 200)


def test_a_hello_longer_than_its_envelope_is_refused() -> None:
    hello = bytearray(Encoder(Dialect.PYMODAQ5).encode_bytes(ClientType(ACTUATOR)))
    hello[3] -= 1
    with pytest.raises(MalformedPayload, match='hello'):
        Decoder(Side.SERVER).feed(bytes(hello) + b'\x00' * 8)


# -- the bad-input suite, in this framing -----------------------------------------------------------

def _u32(n: int) -> bytes:
    return n.to_bytes(4, 'big')


def _s(text: str) -> bytes:
    return _u32(len(text.encode())) + text.encode()


def _obj(tag: str, payload: bytes = b'') -> bytes:
    return _s(tag) + payload


def _env(body: bytes, length: Optional[int] = None) -> bytes:
    return _u32(len(body) if length is None else length) + body


_DONE = _env(_obj('str', _s('Done')))
_NESTED = b''.join(_obj('list', _u32(1)) for _ in range(100))
_FLOAT = _obj('float', _s('<f8') + _u32(8) + b'\0' * 8)
_INT = _obj('int', _s('<i8') + _u32(8) + b'\0' * 8)


def _str(text: str) -> bytes:
    return _obj('str', _s(text))


def _list(*items: bytes) -> bytes:
    return _obj('list', _u32(len(items)) + b''.join(items))


def _array(n: int) -> bytes:
    return _obj('ndarray', _s('<f8') + _u32(8 * n) + _u32(1) + _u32(n) + b'\0' * 8 * n)


def _dwa(name: bytes, *channels: bytes) -> bytes:
    """A DataFromPlugins, fields in the 5.x order; ``name`` and ``channels`` as given."""
    return _obj('DataFromPlugins', _FLOAT + name + _str('raw') + _str('Data1D') + _str('uniform') + _list(*channels)
                + _str('') + _list() + _str('') + _list() + _list() + _list() + _list())


def _done(dwa: bytes) -> bytes:
    return _DONE + _env(_obj('DataToExport', _FLOAT + _str('x') + _list(dwa) + _list()))


BAD = {
    'envelope of 4 GiB - 1': (_DONE + _u32(2 ** 32 - 1) + _obj('DataToExport'), PayloadTooLarge, 'limit'),
    'array larger than its envelope': (_DONE + _env(_obj('ndarray', _s('|u1') + _u32(2 ** 30) + _u32(1)
                                                         + _u32(2 ** 30)), 64), MalformedPayload, 'runs past'),
    'list of a billion items': (_DONE + _env(_obj('list', _u32(10 ** 9)), 100), ListTooLong, '1000000000'),
    'nested lists': (_DONE + _env(_NESTED, 10 ** 4), NestingTooDeep, 'nested'),
    'unknown object type': (_DONE + _env(_obj('pickle', b'\x80\x04'), 100), UnknownTag, "'pickle'"),
    'object dtype': (_DONE + _env(_obj('ndarray', _s('|O8') + _u32(8) + _u32(1) + _u32(1)), 100), InvalidDtype,
                     "'|O8'"),
    'unknown command': (_env(_str('Hello world')), UnknownCommand, "'Hello world'"),
    'command that is no string': (_env(_INT), MalformedPayload, 'command string'),
    'data name that is a number': (_done(_dwa(_INT, _array(1))), MalformedPayload, 'data name'),
    'channels of different shapes': (_done(_dwa(_str('d'), _array(1), _array(2))), MalformedPayload,
                                     'different shapes'),
    'Infos that is a number': (_env(_str('Infos')) + _env(_FLOAT), MalformedPayload, 'Infos xml'),
}


def test_the_bad_input_builders_make_valid_messages() -> None:
    """The cases above are one mutation away from valid: the same builders decode when valid."""
    decoder = Decoder(Side.SERVER)
    decoder.feed(Encoder(Dialect.PYMODAQ5).encode_bytes(ClientType(GRABBER)))
    done, = decoder.feed(_done(_dwa(_str('d'), _array(3), _array(3))))
    assert done.data.data[0].name == 'd' and done.data.data[0].data[1].shape == (3,)


@pytest.mark.parametrize('name', list(BAD))
def test_bad_input_raises_before_allocating(name: str) -> None:
    data, error, text = BAD[name]
    decoder = Decoder(Side.SERVER, Limits(max_payload_bytes=1 << 30))
    decoder.feed(Encoder(Dialect.PYMODAQ5).encode_bytes(ClientType(GRABBER)))
    tracemalloc.start()
    try:
        with pytest.raises(error) as caught:
            decoder.feed(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text in str(caught.value)
    assert peak < 2 << 20, f'{peak} bytes allocated while rejecting {name}'
    with pytest.raises(ProtocolError):  # the stream cannot be resynchronised
        decoder.feed(_DONE)
