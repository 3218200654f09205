"""The incremental decoder: same messages under any chunking; encode -> decode round trips."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tcpbridge import Dialect, DwaLayout
from tcpbridge.protocol.decoder import BufferPool
from tcpbridge.wire import (
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
    Quit,
    SendData,
    SetInfo,
    Side,
    StopMotion,
    data_actuator,
)
from wire_examples import DONE_LEGACY, DONE_PYMODAQ4, GRABBER_HELLO, POSITION_IS_LEGACY, POSITION_IS_PYMODAQ4

WIRE_DTYPES = [f'{order}{kind}' for order in '<>' for kind in
               ('i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8', 'c8', 'c16')] + ['|b1']

CLIENT_STREAM = (GRABBER_HELLO + DONE_LEGACY + DONE_PYMODAQ4 + POSITION_IS_LEGACY + POSITION_IS_PYMODAQ4
                 + b''.join(Encoder().encode_bytes(m) for m in (
                     Infos('<settings type="group" title="s"><a type="int" title="a">1</a></settings>'),
                     Info('serial', 'ABC-123 µ'), InfoXml(('detector_settings', 'a'), '<a type="int">2</a>'),
                     AxisInfo('x', np.arange(4.0), 'wavelength', 'nm'), Quit())))


def decode_in_chunks(data: bytes, sizes: list, role: Side = Side.SERVER, dialect: Optional[Dialect] = None) -> list:
    """Decode ``data`` cut into pieces of ``sizes`` (a client of a pymodaq5 server is told ``dialect``)."""
    decoder, out, position, index = Decoder(role, dialect=dialect), [], 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)] if sizes else len(data)
        out += decoder.feed(data[position:position + size])
        position += size
        index += 1
    assert not decoder.in_message
    return out


REFERENCE = decode_in_chunks(CLIENT_STREAM, [])


def test_reference_stream_has_every_client_message() -> None:
    kinds = [type(m).__name__ for m in REFERENCE]
    assert kinds == ['ClientType', 'Done', 'Done', 'PositionIs', 'PositionIs', 'Infos', 'Info', 'InfoXml',
                     'AxisInfo', 'Quit']


@pytest.mark.parametrize('size', [1, 2, 3, 4, 5, 7, 64, 1000])
def test_fixed_chunk_sizes(size: int) -> None:
    assert decode_in_chunks(CLIENT_STREAM, [size]) == REFERENCE


@given(st.lists(st.integers(1, 300), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_random_chunkings(sizes: list) -> None:
    assert decode_in_chunks(CLIENT_STREAM, sizes) == REFERENCE


def test_recv_into_path_gives_same_messages() -> None:
    decoder, out, view = Decoder(), [], memoryview(CLIENT_STREAM)
    while view.nbytes:
        target = decoder.get_buffer()
        n = min(target.nbytes, view.nbytes, 13)
        target[:n] = view[:n]
        view = view[n:]
        decoder.buffer_updated(n)
        out += decoder.pop_messages()
    assert out == REFERENCE


def test_large_array_received_into_its_own_buffer_and_writable() -> None:
    frame = np.arange(2048 * 512, dtype='<u2').reshape(2048, 512)
    data = Encoder().encode_bytes(Done([frame]))
    for size in (1 << 16, 100_003):
        message, = decode_in_chunks(GRABBER_HELLO + data, [size])[1:]
        np.testing.assert_array_equal(message.data[0], frame)
        assert message.data[0].flags.writeable


SERVER_MESSAGES = [SendData(d) for d in ('0D', '1D', '2D', 'ND')] + [
    MoveAbs(1.5), MoveRel(-2), MoveHome(), StopMotion(), CheckPosition(), GetActuatorValue(),
    SetInfo(('detector_settings', 'exposure'), '<exposure type="float">3.0</exposure>')]


@pytest.mark.parametrize('dialect', list(Dialect))
def test_server_messages_round_trip(dialect: Dialect) -> None:
    encoder = Encoder(dialect)
    stream = b''.join(encoder.encode_bytes(m) for m in SERVER_MESSAGES)
    for sizes in ([], [1], [3, 17]):
        decoded = decode_in_chunks(stream, sizes, Side.CLIENT, dialect)
        assert [type(m) for m in decoded] == [type(m) for m in SERVER_MESSAGES]
        assert [getattr(m, 'value', None) for m in decoded] == [getattr(m, 'value', None) for m in SERVER_MESSAGES]


@pytest.mark.parametrize('layout', list(DwaLayout))
def test_every_pymodaq4_layout_round_trips(layout: DwaLayout) -> None:
    dwa = DataWithAxes('spectrum', data=[np.linspace(0, 1, 5), np.ones(5)], class_name='DataFromPlugins',
                       units='V' if layout.has_units else '', labels=['a', 'b'],
                       axes=[Axis('wavelength', 'nm', np.linspace(500, 600, 5), 0)],
                       errors=[np.zeros(5), np.zeros(5)] if layout.has_errors else [],
                       extra_attributes={'do_plot': True} if layout.has_extras else {})
    dte = DataToExport('det', data=[dwa])
    data = Encoder(Dialect.PYMODAQ4, layout).encode_bytes(Done(dte))
    decoder = Decoder(old_layout=layout if layout < DwaLayout.V4_4 else DwaLayout.V4_2)
    decoder.feed(GRABBER_HELLO)
    message, = decoder.feed(data)
    assert message.data == dte
    assert message.layout is layout


# -- property tests ---------------------------------------------------------------------------------

arrays = st.sampled_from(WIRE_DTYPES).flatmap(
    lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
texts = st.text(max_size=20)
scalars = st.one_of(st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1),
                    st.floats(allow_nan=False), st.complex_numbers(allow_nan=False))
items = st.recursive(st.one_of(arrays, texts, scalars, st.binary(max_size=10)),
                     lambda inner: st.lists(inner, max_size=4), max_leaves=12)


@st.composite
def dwas(draw: st.DrawFn) -> DataWithAxes:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    dtype = draw(st.sampled_from(WIRE_DTYPES))
    n = draw(st.integers(1, 3))
    data = [draw(hnp.arrays(np.dtype(dtype), shape)) for _ in range(n)]
    axes = [Axis(draw(texts), draw(texts), draw(hnp.arrays(np.float64, shape[i])), i) for i in
            range(draw(st.integers(0, len(shape))))]
    return DataWithAxes(draw(texts), data=data, class_name=draw(st.sampled_from(
        ['DataRaw', 'DataFromPlugins', 'DataCalculated', 'DataWithAxes', 'DataActuator'])),
        units=draw(texts), labels=[draw(texts) for _ in range(n)], origin=draw(texts), axes=axes,
        source=draw(st.sampled_from(['raw', 'calculated'])), distribution='uniform',
        errors=[np.zeros(shape) for _ in range(n)] if draw(st.booleans()) else [],
        extra_attributes=draw(st.dictionaries(st.text(min_size=1, max_size=8), items, max_size=3)))


def roundtrip(message, dialect: Dialect = Dialect.PYMODAQ4, role: Side = Side.SERVER):
    decoder = Decoder(role, dialect=dialect if role is Side.CLIENT else None)
    if role is Side.SERVER:  # the hello in the dialect's framing (pymodaq5 has its own)
        decoder.feed(Encoder(dialect).encode_bytes(ClientType('GRABBER')))
    out = decoder.feed(Encoder(dialect).encode_bytes(message))
    assert len(out) == 1 and not decoder.in_message
    return out[0]


@given(st.lists(arrays, max_size=5))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_legacy_arrays_round_trip(data: list) -> None:
    decoded = roundtrip(Done(data), Dialect.LEGACY).data
    assert len(decoded) == len(data)
    for got, sent in zip(decoded, data):
        assert got.dtype == sent.dtype and got.shape == sent.shape
        np.testing.assert_array_equal(got, sent)


@given(st.lists(dwas(), max_size=3), texts)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_pymodaq4_data_to_export_round_trip(data: list, name: str) -> None:
    dte = DataToExport(name, data=data)
    assert roundtrip(Done(dte)).data == dte


@given(st.one_of(st.floats(allow_nan=False), st.integers(-2 ** 63, 2 ** 63 - 1)), texts,
       st.sampled_from(list(Dialect)))
@settings(max_examples=100, deadline=None)
def test_positions_round_trip(value: float, units: str, dialect: Dialect) -> None:
    message = roundtrip(MoveDone(data_actuator(value, units)), dialect)
    assert message.value == value and message.dialect is dialect
    assert message.units == ('' if dialect is Dialect.LEGACY else units)


@given(st.lists(texts, max_size=5), texts)
@settings(max_examples=100, deadline=None)
def test_strings_and_paths_round_trip(path: list, xml: str) -> None:
    assert roundtrip(InfoXml(tuple(path), xml), Dialect.LEGACY) == InfoXml(tuple(path), xml)
    assert roundtrip(SetInfo(tuple(path), xml), Dialect.LEGACY, Side.CLIENT) == SetInfo(tuple(path), xml)
    assert roundtrip(Info(xml, xml), Dialect.LEGACY) == Info(xml, xml)


def test_hello_then_unknown_type_is_still_a_client_type() -> None:
    assert Decoder().feed(Encoder().encode_bytes(ClientType('SPECTROMETER'))) == [ClientType('SPECTROMETER')]


def test_receive_buffers_are_reused_only_when_free() -> None:
    frame = np.arange(512 * 512, dtype='<u2').reshape(512, 512)
    data = Encoder().encode_bytes(Done([frame]))
    decoder = Decoder()
    decoder.feed(GRABBER_HELLO)
    kept = decoder.feed(data)[0].data[0]          # a frame the application keeps
    addresses = set()
    for _ in range(5):
        dropped = decoder.feed(data)[0].data[0]   # frames it drops at once
        np.testing.assert_array_equal(dropped, frame)
        addresses.add(dropped.__array_interface__['data'][0])
        del dropped
    assert len(addresses) == 1                    # one buffer, reused for every dropped frame
    assert kept.__array_interface__['data'][0] not in addresses
    np.testing.assert_array_equal(kept, frame)    # never overwritten
    frame2 = frame + 1
    again = decoder.feed(Encoder().encode_bytes(Done([frame2])))[0].data[0]
    assert not np.shares_memory(again, kept)
    np.testing.assert_array_equal(kept, frame)
    np.testing.assert_array_equal(again, frame2)


def test_a_burst_of_frames_given_back_at_once_is_reused_within_the_pool_bound() -> None:
    """Back-pressure releases half its bound of frames at once: the pool keeps them all (up to its
    bytes bound) and the next burst is received into the same memory, without fresh mappings."""
    frame = np.arange(512 * 512, dtype='<u2').reshape(512, 512)
    data = Encoder().encode_bytes(Done([frame]))
    decoder = Decoder()
    decoder.feed(GRABBER_HELLO)
    burst = [decoder.feed(data)[0].data[0] for _ in range(50)]   # 50 frames in flight (25 MiB)
    first = {array.__array_interface__['data'][0] for array in burst}
    assert len(first) == 50
    del burst                                                     # the consumer caught up
    again = [decoder.feed(data)[0].data[0] for _ in range(50)]
    assert {array.__array_interface__['data'][0] for array in again} == first
    for array in again:
        np.testing.assert_array_equal(array, frame)


def test_the_pool_keeps_no_more_than_its_bound() -> None:
    pool = BufferPool(max_free_bytes=4 << 20, min_free=2)
    leases = [pool.lease(1 << 20) for _ in range(10)]
    del leases
    assert pool.free == 4                                         # 4 MiB of 1 MiB buffers
    big = [pool.lease(8 << 20) for _ in range(3)]                 # a larger size: other buffers
    del big
    assert pool.free == 4                                         # none kept: over the bound
    small = BufferPool(max_free_bytes=1 << 20, min_free=2)
    frames = [small.lease(8 << 20) for _ in range(5)]
    del frames
    assert small.free == 2                                        # min_free whatever the size


def test_a_view_of_a_frame_keeps_its_buffer() -> None:
    frame = np.arange(512 * 512, dtype='<u2').reshape(512, 512)
    data = Encoder().encode_bytes(Done([frame]))
    decoder = Decoder()
    decoder.feed(GRABBER_HELLO)
    received = decoder.feed(data)[0].data[0]
    rows = np.atleast_2d(received)[100:200].T     # what a consumer keeps: a view of a view
    del received
    for _ in range(3):
        other = decoder.feed(Encoder().encode_bytes(Done([frame + 7])))[0].data[0]
        assert not np.shares_memory(other, rows)
        del other
    np.testing.assert_array_equal(rows, frame[100:200].T)


@pytest.mark.parametrize('dialect', [Dialect.LEGACY, Dialect.PYMODAQ4])
def test_thousands_of_small_messages_in_one_chunk_decode_in_order_with_their_sizes(dialect: Dialect) -> None:
    """Messages received in one chunk, more than the receive buffer holds, all come out in order with
    their sizes on the wire, and the start of the next one waits for its end."""
    encoder = Encoder(dialect)
    moves = [encoder.encode_bytes(MoveDone(data_actuator(float(i), 'mm') if dialect is Dialect.PYMODAQ4
                                           else float(i))) for i in range(10000)]
    assert sum(map(len, moves)) > Decoder.BUFFER_SIZE
    decoder = Decoder(Side.SERVER)
    decoder.feed(encoder.encode_bytes(ClientType('ACTUATOR')))
    decoded = decoder.feed_sized(b''.join(moves) + moves[0][:7])  # and the start of one more
    assert [message.value for message, _ in decoded] == [float(i) for i in range(10000)]
    assert [size for _, size in decoded] == [len(m) for m in moves]
    assert decoder.in_message
    assert decoder.feed(moves[0][7:])[0].value == 0.0
