"""The connection states and their one transition table, alone and as a ServerSession walks them."""
from __future__ import annotations

import pytest

from tcpbridge import GRABBER
from tcpbridge.protocol.connection_state import (
    TRANSITIONS,
    ConnectionState,
    InvalidTransition,
    Transition,
    next_state,
)
from tcpbridge.server import ServerSession, SessionConfig
from tcpbridge.wire import AuthRequest, ClientType, Encoder

S, T = ConnectionState, Transition


def test_the_table_lists_every_legal_move_and_closed_is_final() -> None:
    assert next_state(S.HANDSHAKE, T.HELLO_NEEDS_SECRET) is S.AUTHENTICATING
    assert next_state(S.AUTHENTICATING, T.TAKE_CONTROL) is S.IN_CONTROL
    assert next_state(S.WAITING, T.TAKE_CONTROL) is S.IN_CONTROL
    assert {state for state in S if (state, T.CLOSE) in TRANSITIONS} == set(S) - {S.CLOSED}
    assert not [pair for pair in TRANSITIONS if pair[0] is S.CLOSED]
    # what a session must never do: an observer or the client in control waiting, a second hello
    for state, transition in [(S.OBSERVING, T.TAKE_CONTROL), (S.IN_CONTROL, T.WAIT), (S.WAITING, T.OBSERVE),
                              (S.AUTHENTICATING, T.HELLO_NEEDS_SECRET), (S.CLOSED, T.CLOSE)]:
        with pytest.raises(InvalidTransition, match=state.name):
            next_state(state, transition)


def test_a_state_is_its_role_text() -> None:
    assert S.IN_CONTROL == 'in control' and f'{S.WAITING}' == 'waiting' and str(S.OBSERVING) == 'observing'
    assert not S.HANDSHAKE and f'{S.HANDSHAKE or "-"}' == '-'
    assert [s for s in S if s.said_hello] == [S.IN_CONTROL, S.WAITING, S.OBSERVING]


def test_a_session_walks_the_table_handshake_authenticating_control_closed() -> None:
    session = ServerSession(SessionConfig(client_type=GRABBER, auth_secret='s3cret'))
    cid, _ = session.connection_made('10.0.0.5:4000', 1.0)
    assert session.state(cid) is S.HANDSHAKE
    data = memoryview(Encoder().encode_bytes(ClientType(GRABBER)) + Encoder().encode_bytes(AuthRequest()))
    while data.nbytes:  # as the I/O loop feeds it
        target = session.receive_buffer(cid)
        n = min(target.nbytes, data.nbytes)
        target[:n] = data[:n]
        data = data[n:]
        session.bytes_received(cid, n, 1.0)
    assert session.state(cid) is S.AUTHENTICATING and [c.role for c in session.clients] == ['authenticating']
    assert session.in_control is None  # its hello counts once it has authenticated
    lost = session.connection_lost(cid, 'reset', 2.0)
    assert lost[0].reason == 'reset' and session.state(cid) is None and session.pop_closed() == [cid]
