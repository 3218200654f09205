"""Fuzzing the decoder with valid messages of every dialect and direction, mutated: whatever comes,
the decoder returns messages or raises a ProtocolError subclass (never another exception), within
its limits and the shared receive budget, whatever the chunking.  Bounded for CI; the long run is
``python benchmarks/stress.py decoder``."""
from __future__ import annotations

import random

import pytest
from corpus import chunks, client_streams, decoder, mutate, server_streams
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpbridge import Limits
from tcpbridge.wire import ProtocolError, ReceiveBudget

STREAMS = client_streams() + server_streams()
LIMITS = Limits(max_payload_bytes=4 << 20, max_string_bytes=1 << 20, max_list_length=4096)
BUDGET = 6 << 20


def decode_all(data: bytes, name: str, rng: random.Random) -> int:
    """Feed ``data`` in random chunks to the decoder of stream ``name``; returns the messages
    decoded, raises ProtocolError only."""
    budget = ReceiveBudget(BUDGET)
    stream = decoder(name, LIMITS, budget)
    decoded = 0
    try:
        for piece in chunks(data, rng):
            decoded += len(stream.feed(piece))
            assert budget.used <= BUDGET
    except ProtocolError:
        with pytest.raises(ProtocolError):  # once failed, the decoder refuses further input
            stream.feed(b'\x00')
        assert budget.used == 0               # and gave back what it held
    return decoded


@pytest.mark.parametrize('name,data', STREAMS, ids=[n for n, _ in STREAMS])
def test_valid_streams_decode_whole_in_any_chunking(name: str, data: bytes) -> None:
    rng = random.Random(name)
    expected = len(decoder(name, LIMITS).feed(data))
    assert expected >= 5
    for _ in range(20):
        assert decode_all(data, name, rng) == expected


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(STREAMS) - 1), seed=st.integers(0, 2**32 - 1))
def test_mutated_streams_raise_protocol_errors_only(index: int, seed: int) -> None:
    name, data = STREAMS[index]
    rng = random.Random(seed)
    decode_all(mutate(data, rng), name, rng)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.sampled_from(['client', 'server-legacy', 'server-pymodaq5']))
def test_random_bytes_raise_protocol_errors_only(data: bytes, name: str) -> None:
    decode_all(data, name, random.Random(len(data)))


def test_the_mutations_reach_many_kinds_of_error() -> None:
    """The fuzzing is not vacuous: a fixed sample of mutations gives messages and many errors."""
    rng = random.Random(7)
    outcomes: dict = {}
    for i in range(3000):
        name, data = STREAMS[i % len(STREAMS)]
        try:
            decoder(name, LIMITS).feed(mutate(data, rng))
            outcomes['decoded'] = outcomes.get('decoded', 0) + 1
        except ProtocolError as error:
            outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1
    assert outcomes.get('decoded', 0) > 100
    assert len(outcomes) >= 8, outcomes
