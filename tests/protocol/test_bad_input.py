"""Malformed, oversized, truncated and hostile input: a specific ProtocolError, raised before
anything of the claimed size is allocated."""
from __future__ import annotations

import struct
import tracemalloc

import pytest

from tcpbridge import Limits
from tcpbridge.wire import (
    Decoder,
    InvalidDtype,
    InvalidText,
    ListTooLong,
    MalformedPayload,
    NestingTooDeep,
    PayloadTooLarge,
    ProtocolError,
    ShapeMismatch,
    Side,
    StringTooLong,
    TooManyDimensions,
    UnknownCommand,
    UnknownTag,
)
from wire_examples import DONE_PYMODAQ4, GRABBER_HELLO


def u32(n: int) -> bytes:
    return struct.pack('>I', n)


def s(text: str) -> bytes:
    return u32(len(text.encode())) + text.encode()


def array_header(dtype: str, nbytes: int, shape: tuple) -> bytes:
    return s(dtype) + u32(nbytes) + u32(len(shape)) + b''.join(u32(n) for n in shape)


DONE = s('Done')
NESTED = b''.join(s('list') + u32(1) for _ in range(100))

CASES = {
    'array over 1 GiB': (DONE + u32(1) + s('array') + array_header('|u1', 2 ** 31, (2 ** 31,)),
                         PayloadTooLarge, '2147483648'),
    'array of 4 GiB - 1': (DONE + u32(1) + s('array') + array_header('|u1', 2 ** 32 - 1, (2 ** 32 - 1,)),
                           PayloadTooLarge, 'limit'),
    'string of 4 GiB': (s('Infos') + u32(2 ** 32 - 1), StringTooLong, '4294967295'),
    'huge command string': (u32(10 ** 6) + b'x' * 100, StringTooLong, 'command string'),
    'list of a billion items': (DONE + u32(10 ** 9), ListTooLong, '1000000000'),
    '1000 dimensions': (DONE + u32(1) + s('array') + s('<f8') + u32(8) + u32(1000), TooManyDimensions, '1000'),
    'nested lists': (s('Info_xml') + u32(1) + NESTED, NestingTooDeep, 'nested'),
    'unknown command': (s('Hello world'), UnknownCommand, "'Hello world'"),
    'unknown list tag': (DONE + u32(1) + s('pickle'), UnknownTag, "'pickle'"),
    'invalid utf-8 command': (u32(4) + b'\xff\xfeDo', InvalidText, 'UTF-8'),
    'object dtype': (DONE + u32(1) + s('array') + array_header('|O8', 8, (1,)), InvalidDtype, "'|O8'"),
    'structured dtype': (DONE + u32(1) + s('array') + array_header('|V8', 8, (1,)), InvalidDtype, "'|V8'"),
    'datetime dtype': (s('position_is') + s('<M8') + u32(8), InvalidDtype, "'<M8'"),
    'shape does not match bytes': (DONE + u32(1) + s('array') + array_header('<f8', 16, (3,)),
                                   ShapeMismatch, '(3,)'),
    'lying shape, huge product': (DONE + u32(1) + s('array') + array_header('<f8', 8, (2 ** 31, 2 ** 31)),
                                  ShapeMismatch, 'needs'),
    'scalar of wrong size': (s('move_done') + s('<f8') + u32(4) + b'\0' * 4, ShapeMismatch, '4 bytes'),
    'bad class name': (s('position_is') + s('DataEvil') + b'\0' * 64, MalformedPayload, "'DataEvil'"),
    'bad DataToExport class': (DONE + u32(12) + b'DataToImport', MalformedPayload, 'DataToExport'),
}


@pytest.mark.parametrize('name', list(CASES))
def test_bad_input_raises_before_allocating(name: str) -> None:
    data, error, text = CASES[name]
    decoder = Decoder(Side.SERVER)
    decoder.feed(GRABBER_HELLO)
    tracemalloc.start()
    try:
        with pytest.raises(error, match=None) as caught:
            decoder.feed(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text in str(caught.value)
    assert peak < 2 << 20, f'{peak} bytes allocated while rejecting {name}'
    # the stream cannot be resynchronised: the decoder refuses anything more
    with pytest.raises(ProtocolError):
        decoder.feed(b'\0\0\0\4Quit')


def test_configured_limit_applies_to_the_whole_message() -> None:
    decoder = Decoder(Side.SERVER, Limits(max_payload_bytes=200))
    decoder.feed(GRABBER_HELLO)
    with pytest.raises(PayloadTooLarge, match='200'):
        decoder.feed(DONE_PYMODAQ4)  # 230 bytes


def test_string_limit_is_configurable() -> None:
    decoder = Decoder(Side.SERVER, Limits(max_string_bytes=10))
    decoder.feed(GRABBER_HELLO)
    with pytest.raises(StringTooLong, match='11 bytes'):
        decoder.feed(s('Infos') + s('<a>1234</a>'))


def test_truncated_message_is_visible() -> None:
    decoder = Decoder(Side.SERVER)
    decoder.feed(GRABBER_HELLO)
    assert not decoder.in_message
    assert decoder.feed(DONE_PYMODAQ4[:100]) == []
    assert decoder.in_message


def test_client_side_rejects_unknown_server_commands() -> None:
    with pytest.raises(UnknownCommand, match='Send Data 3D'):
        Decoder(Side.CLIENT).feed(s('Send Data 3D'))
    with pytest.raises(UnknownCommand, match='Status'):
        Decoder(Side.CLIENT).feed(s('Status'))


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match='max_ndim'):
        Limits(max_ndim=0)
