"""The server's rules, sans I/O: ServerSession fed with bytes and timestamps, no socket, no thread."""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pytest

from tcpbridge import GRABBER
from tcpbridge.protocol.errors import BudgetExceeded
from tcpbridge.server import (
    IN_CONTROL,
    WAITING,
    ClientLost,
    ClientRefused,
    ControlChanged,
    Event,
    MessageReceived,
    ReplyTimeout,
    ServerSession,
    SessionConfig,
)
from tcpbridge.wire import (
    ClientType,
    DataToExport,
    DataWithAxes,
    Decoder,
    Done,
    Encoder,
    Infos,
    ReceiveBudget,
    SendData,
    Side,
)

HELLO = Encoder().encode_bytes(ClientType(GRABBER))


class Harness:
    """Drives a ServerSession the way the I/O loop does, with a clock the test moves."""

    def __init__(self, **policies: object) -> None:
        self.session = ServerSession(SessionConfig(**{'client_type': GRABBER, **policies}))  # type: ignore[arg-type]
        self.now = 100.0
        self.events: List[Event] = []

    def connect(self, peer: str = '127.0.0.1:5000') -> int:
        cid, events = self.session.connection_made(peer, self.now)
        self.events += events
        return cid

    def receive(self, cid: int, data: bytes) -> List[Event]:
        view = memoryview(data)
        out: List[Event] = []
        while view.nbytes:
            try:
                target = self.session.receive_buffer(cid)
            except Exception as error:  # what the I/O loop reports when the decoder refuses
                out += self.session.bytes_received(cid, 0, self.now, error)
                break
            n = min(target.nbytes, view.nbytes)
            target[:n] = view[:n]
            view = view[n:]
            out += self.session.bytes_received(cid, n, self.now)
        self.events += out
        return out

    def hello(self, peer: str = '127.0.0.1:5000') -> int:
        cid = self.connect(peer)
        self.receive(cid, HELLO)
        return cid

    def advance(self, seconds: float) -> List[Event]:
        self.now += seconds
        events = self.session.check_deadlines(self.now)
        self.events += events
        return events

    def sent(self, cid: int) -> bytes:
        """Everything queued for ``cid``, as the loop would send it."""
        views = self.session.views(cid)
        data = b''.join(bytes(v) for v in views)
        self.session.data_sent(cid, len(data))
        return data

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def done(value: float = 1.0, size: int = 1) -> bytes:
    return Encoder().encode_bytes(Done([np.full(size, value)]))


def test_first_client_is_in_control_and_the_next_waits() -> None:
    h = Harness()
    first, second = h.hello('a:1'), h.hello('b:2')
    assert [c.role for c in h.session.clients] == [IN_CONTROL, WAITING]
    assert h.session.in_control.id == first
    h.receive(second, done())
    assert not h.of(MessageReceived)  # a waiting client's data is not delivered
    h.receive(first, done(2.0))
    assert h.of(MessageReceived)[0].message == Done([np.array([2.0])])


def test_requests_awaiting_the_same_reply_are_settled_one_by_one() -> None:
    h = Harness()
    cid = h.hello()
    first, events = h.session.send(SendData('1D'), h.now, (Done,), timeout=1.0)
    h.advance(0.5)
    second, _ = h.session.send(SendData('1D'), h.now, (Done,), timeout=1.0)
    assert first != second and not events
    decoder = Decoder(Side.CLIENT)
    assert decoder.feed(h.sent(cid)) == [SendData('1D'), SendData('1D')]
    h.receive(cid, done())           # settles the first request only
    assert [e.request_id for e in h.of(MessageReceived)] == [first]
    late = h.advance(0.6)            # past the first request's deadline, not the second's
    assert late == []
    late = h.advance(0.5)
    assert [(e.request_id, e.command) for e in late if isinstance(e, ReplyTimeout)] == [(second, 'Send Data 1D')]
    # the second's reply could come late and answer a later request: the connection is closed
    assert isinstance(late[1], ClientLost) and 'no Done within 1 s after Send Data 1D' in late[1].reason
    assert h.session.pop_closed() == [cid]


def test_a_reply_received_before_its_request_went_out_answers_none() -> None:
    """Data pushed by the client, complete before the request was sent, are not its answer."""
    h = Harness()
    cid = h.hello()
    h.receive(cid, done(1.0))
    h.advance(0.1)
    request, _ = h.session.send(SendData('1D'), h.now, (Done,), timeout=1.0)
    h.advance(0.1)
    h.receive(cid, done(2.0))
    assert [(e.request_id, e.message.data[0][0]) for e in h.of(MessageReceived)] == [(0, 1.0), (request, 2.0)]


def test_a_late_reply_never_answers_a_later_request() -> None:
    """The first request times out; its reply comes after a second request went out: it must not be
    taken for the second's (docs/protocol.rst §8): the connection was closed at the timeout."""
    h = Harness()
    cid = h.hello()
    h.session.send(SendData('1D'), h.now, (Done,), timeout=1.0)
    lost = h.advance(1.1)
    assert [type(e) for e in lost] == [ReplyTimeout, ClientLost, ControlChanged]
    second, events = h.session.send(SendData('1D'), h.now, (Done,), timeout=1.0)
    assert second is None and events == []  # nobody to ask: the plugin says no client is connected
    assert h.receive(cid, done(1.0)) == []  # the late reply of the closed connection goes nowhere


def test_a_silent_connection_is_refused_after_the_hello_timeout() -> None:
    h = Harness(hello_timeout=2.0)
    cid = h.connect()
    assert h.session.next_deadline() == pytest.approx(h.now + 2.0)
    assert h.advance(1.9) == []
    refused = h.advance(0.2)
    assert isinstance(refused[0], ClientRefused) and 'no client type' in refused[0].reason
    assert h.session.pop_closed() == [cid]


def test_handshaking_connections_never_crowd_out_a_client_that_says_hello() -> None:
    h = Harness(max_handshaking=3)
    silent = [h.connect(f'10.0.0.{i}:1') for i in range(10)]
    assert len(h.session.clients) == 3  # the oldest unfinished handshakes were dropped
    assert len(h.of(ClientRefused)) == 7
    fresh = h.hello('192.168.0.2:7')  # evicts one more silent connection, then says hello at once
    assert h.session.in_control.id == fresh
    assert set(h.session.pop_closed()) == set(silent[:8])


def test_a_new_client_evicts_the_waiting_client_silent_longest() -> None:
    h = Harness(max_clients=3)
    controller = h.hello('a:1')
    h.advance(1)
    quiet = h.hello('b:2')
    h.advance(1)
    talkative = h.hello('c:3')
    h.advance(1)
    h.receive(quiet, Encoder().encode_bytes(Infos('<settings/>')))  # quiet speaks again: now the newest
    newcomer = h.hello('d:4')
    lost = h.of(ClientLost)
    assert [e.client.id for e in lost] == [talkative]
    assert [c.id for c in h.session.clients] == [controller, quiet, newcomer]


def test_a_message_in_progress_must_keep_arriving() -> None:
    h = Harness(message_timeout=5.0, min_rate=1000.0)
    cid = h.hello()
    data = done(size=1000)            # 8 kB: 5 s + 8 s allowed at 1000 B/s
    h.receive(cid, data[:100])
    assert h.advance(12.0) == []
    lost = h.advance(2.0)
    assert isinstance(lost[0], ClientLost) and 'too slowly' in lost[0].reason


def test_a_stream_of_messages_is_not_taken_for_a_slow_one() -> None:
    h = Harness(message_timeout=1.0, min_rate=1e9)
    cid = h.hello()
    data = done(size=10) * 3
    for _ in range(50):               # every read ends inside the next message
        h.receive(cid, data[:-7])
        h.advance(0.5)
        h.receive(cid, data[-7:])
    assert not h.of(ClientLost) and len(h.of(MessageReceived)) == 150


def test_while_reading_is_paused_the_clients_deadlines_wait() -> None:
    """Back-pressure (net/backlog.py): the time the I/O loop does not read is not the client's."""
    h = Harness(message_timeout=5.0, min_rate=1000.0)
    cid = h.hello()
    h.session.send(SendData('1D'), h.now, (Done,), timeout=2.0)
    h.session.set_reading_paused(cid, True, h.now)
    assert h.advance(60.0) == [] and h.session.next_deadline() is None
    h.session.set_reading_paused(cid, False, h.now)
    assert h.advance(1.9) == []       # the reply deadline, shifted by the pause: 0.1 s left
    timeout, lost = h.advance(0.2)[:2]
    assert isinstance(timeout, ReplyTimeout) and isinstance(lost, ClientLost) and 'within 2 s' in lost.reason

    cid = h.hello()
    h.session.send(SendData('1D'), h.now, (Done,), timeout=30.0)
    data = done(size=1000)            # 8 kB: 5 s + 8 s allowed at 1000 B/s
    h.receive(cid, data[:100])
    h.session.set_reading_paused(cid, True, h.now)
    assert h.advance(60.0) == [] and h.session.next_deadline() is None
    h.session.set_reading_paused(cid, False, h.now)
    assert h.advance(12.9) == []      # the message deadline, shifted by the pause: 13 s in all
    lost = h.advance(0.2)
    assert isinstance(lost[0], ClientLost) and 'too slowly' in lost[0].reason


def test_messages_report_their_size_on_the_wire() -> None:
    h = Harness()
    cid = h.hello()
    data = done(size=1000)
    h.receive(cid, data + data[:10])
    assert [e.nbytes for e in h.of(MessageReceived)] == [len(data)]


def test_a_limit_holds_completed_messages_back_until_they_are_asked_for() -> None:
    h = Harness()
    cid = h.hello()
    stream = b''.join(done(float(i)) for i in range(10))
    view = memoryview(h.session.receive_buffer(cid))
    view[:len(stream)] = stream
    received = h.session.bytes_received(cid, len(stream), h.now, limit=3)  # one receive, ten messages
    first = [e for e in received if isinstance(e, MessageReceived)]  # (and the dialect learned)
    assert len(first) == 3 and h.session.pending(cid) == 7
    rest = h.session.deliver_pending(cid, h.now, limit=5) + h.session.deliver_pending(cid, h.now)
    assert h.session.pending(cid) == 0 and h.session.deliver_pending(cid, h.now) == []
    assert [e.message.data[0][0] for e in first + rest] == list(range(10))
    assert h.session.state(cid) == IN_CONTROL and h.session.state(cid + 1) is None


def test_a_client_that_does_not_read_is_dropped_when_a_message_is_queued() -> None:
    h = Harness(max_queued_bytes=10_000)
    h.hello()
    for _ in range(2000):             # 16 bytes each: the limit passes after ~625
        request, events = h.session.send(SendData('2D'), h.now)
        if events:
            break
    assert request is None
    assert isinstance(events[0], ClientLost) and 'does not read' in events[0].reason
    assert h.session.in_control is None


def test_an_unanswered_request_hands_control_to_the_waiting_client_heard_from_last() -> None:
    h = Harness()
    mute, quiet = h.hello('mute:1'), h.hello('quiet:2')
    h.advance(1.0)
    ready = h.hello('ready:3')
    h.session.send(SendData('0D'), h.now, (Done,), timeout=1.0)
    h.advance(1.5)
    changed = h.of(ControlChanged)
    assert changed and changed[-1].client.id == ready and 'no Done within 1 s' in changed[-1].reason
    assert {c.id: c.role for c in h.session.clients} == {quiet: WAITING, ready: IN_CONTROL}
    assert mute in h.session.pop_closed()


def test_answered_requests_keep_the_connection() -> None:
    h = Harness()
    cid, _ = h.hello('a:1'), h.hello('b:2')
    for _ in range(5):
        request, _ = h.session.send(SendData('0D'), h.now, (Done,), timeout=1.0)
        h.advance(0.5)
        h.receive(cid, done())
        h.advance(1.0)
        assert h.of(MessageReceived)[-1].request_id == request
    assert not h.of(ControlChanged) and not h.of(ReplyTimeout) and h.session.in_control.id == cid


def test_clients_not_in_control_may_send_small_messages_only() -> None:
    h = Harness()
    h.hello('a:1')
    waiting = h.hello('b:2')
    lost = h.receive(waiting, done(size=1 << 20))  # 8 MiB of data from a waiting client
    assert isinstance(lost[0], ClientLost) and 'limit' in lost[0].reason


def test_large_fields_share_one_receive_budget() -> None:
    budget = ReceiveBudget(3 << 20)
    first, second = Decoder(Side.SERVER, budget=budget), Decoder(Side.SERVER, budget=budget)
    data = done(size=256 << 10)                     # a 2 MiB array field
    for decoder in (first, second):
        decoder.feed(HELLO)
    first.feed(data[:-10])                          # 2 MiB reserved and in progress
    assert budget.used == 2 << 20
    with pytest.raises(BudgetExceeded):
        second.feed(data[:-10])
    first.feed(data[-10:])                          # complete: the reservation is given back
    assert budget.used == 0


def test_a_hostile_payload_closes_its_connection_only() -> None:
    h = Harness()
    good = h.hello('good:1')
    bad = h.hello('bad:2')
    dte = DataToExport('x', data=[DataWithAxes('d', data=[np.zeros(3)])])
    payload = bytearray(Encoder('pymodaq4').encode_bytes(Done(dte)))
    at = payload.index(b'<f8')                    # the DTE timestamp's dtype: make it complex
    payload[at:at + 3] = b'<c8'
    payload[at + 3:at + 7] = (8).to_bytes(4, 'big')
    lost = h.receive(bad, bytes(payload))
    assert isinstance(lost[0], ClientLost) and lost[0].client.id == bad
    assert 'finite real number' in lost[0].reason
    h.receive(good, done())
    assert h.of(MessageReceived) and h.session.in_control.id == good


def test_the_fault_barrier_turns_a_bug_into_a_lost_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness()
    cid = h.hello()

    def broken(conn: object, message: object) -> Tuple[()]:
        raise RuntimeError('a bug in a handler')
    monkeypatch.setattr(h.session, '_handle', broken)
    lost = h.receive(cid, done())
    assert isinstance(lost[0], ClientLost) and 'internal error' in lost[0].reason
    assert h.session.pop_closed() == [cid]


def test_a_pymodaq5_hello_fixes_the_dialect_and_commands_go_out_in_it() -> None:
    """A PyMoDAQ 5.0/5.1 module reads only its own framing: the probe and every command are in it."""
    from tcpbridge import ACTUATOR, Dialect
    from tcpbridge.server import DialectDetected
    from tcpbridge.wire import CheckPosition, MoveAbs, PositionIs, data_actuator
    h = Harness(client_type=ACTUATOR, probe_position=True)
    pymodaq5 = Encoder('pymodaq5')
    cid = h.connect()
    h.receive(cid, pymodaq5.encode_bytes(ClientType(ACTUATOR)))
    assert h.session.in_control.dialect is Dialect.PYMODAQ5 and h.of(DialectDetected)
    module = Decoder(Side.CLIENT, dialect=Dialect.PYMODAQ5)
    assert module.feed(h.sent(cid)) == [CheckPosition()]
    h.receive(cid, pymodaq5.encode_bytes(PositionIs(data_actuator(0.5, 'mm'))))
    assert h.of(MessageReceived)[-1].message.value == 0.5
    h.session.send(MoveAbs(2.0), h.now)
    assert module.feed(h.sent(cid))[0].value == 2.0


# -- shared-secret authentication (tcpbridge extension) ----------------------------------------------

def authenticate(h: Harness, peer: str, secret: str, dialect: str = 'legacy') -> Tuple[int, str]:
    """Hello + auth request; answers the challenge with ``secret``; returns the id and the nonce."""
    from tcpbridge import Dialect
    from tcpbridge.protocol.auth import response
    from tcpbridge.wire import AuthChallenge, AuthRequest, AuthResponse, ClientType
    encoder = Encoder(dialect)
    cid = h.connect(peer)
    h.receive(cid, encoder.encode_bytes(ClientType(GRABBER)) + encoder.encode_bytes(AuthRequest()))
    client = Decoder(Side.CLIENT, dialect=Dialect.PYMODAQ5 if dialect == 'pymodaq5' else None)
    challenge, = client.feed(h.sent(cid))
    assert isinstance(challenge, AuthChallenge) and len(challenge.nonce) == 64
    h.receive(cid, encoder.encode_bytes(AuthResponse(response(secret, challenge.nonce, GRABBER))))
    return cid, challenge.nonce


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq5'])
def test_the_right_secret_is_accepted(dialect: str) -> None:
    from tcpbridge.server import ClientConnected
    h = Harness(auth_secret='s3cret')
    cid, _ = authenticate(h, '10.0.0.5:4000', 's3cret', dialect)
    assert h.of(ClientConnected) and h.session.in_control.id == cid and not h.of(ClientRefused)
    h.receive(cid, Encoder(dialect).encode_bytes(Infos('<a/>')))
    assert isinstance(h.of(MessageReceived)[-1].message, Infos)


def test_a_wrong_secret_a_replayed_response_and_a_client_that_does_not_authenticate_are_refused() -> None:
    from tcpbridge.protocol.auth import response
    from tcpbridge.wire import AuthRequest, AuthResponse, ClientType
    h = Harness(auth_secret='s3cret')
    authenticate(h, '10.0.0.5:4000', 'guess')
    assert 'authentication failed: wrong shared secret' in h.of(ClientRefused)[-1].reason
    # a response recorded from a good session is worth nothing for the next nonce
    good, nonce = authenticate(h, '10.0.0.6:4000', 's3cret')
    replay = h.connect('10.0.0.7:4000')
    h.receive(replay, Encoder().encode_bytes(ClientType(GRABBER)) + Encoder().encode_bytes(AuthRequest()))
    h.sent(replay)
    h.receive(replay, Encoder().encode_bytes(AuthResponse(response('s3cret', nonce, GRABBER))))
    assert 'wrong shared secret' in h.of(ClientRefused)[-1].reason
    # a legacy client (LabVIEW, PyMoDAQ 4) sends its settings: refused, the reason says why
    legacy = h.connect('10.0.0.8:4000')
    h.receive(legacy, HELLO + Encoder().encode_bytes(Infos('<a/>')))
    assert 'requires authentication' in h.of(ClientRefused)[-1].reason
    assert [c.id for c in h.session.clients] == [good]


def test_failed_attempts_are_rate_limited_per_host() -> None:
    h = Harness(auth_secret='s3cret', max_auth_failures=3)
    for port in range(3):
        authenticate(h, f'10.0.0.9:{5000 + port}', 'guess')
    cid = h.connect('10.0.0.9:6000')
    h.receive(cid, HELLO)
    assert 'failed authentications from 10.0.0.9' in h.of(ClientRefused)[-1].reason
    authenticate(h, '10.0.0.10:5000', 's3cret')  # another host is not affected
    assert h.session.in_control is not None
    assert h.session.auth_failures(h.now) == {'10.0.0.9': 3}  # what the plugin's clients table shows
    h.advance(61)  # the failures age out
    assert h.session.auth_failures(h.now) == {}
    cid, _ = authenticate(h, '10.0.0.9:7000', 's3cret')
    assert cid in [c.id for c in h.session.clients]


def test_authentication_must_end_within_the_hello_timeout() -> None:
    from tcpbridge.wire import AuthRequest
    h = Harness(auth_secret='s3cret', hello_timeout=5.0)
    cid = h.connect()
    h.receive(cid, HELLO + Encoder().encode_bytes(AuthRequest()))
    h.advance(6)
    assert h.of(ClientRefused) and not h.session.clients


# -- observers (tcpbridge extension) ------------------------------------------------------------------

def observer(h: Harness, peer: str) -> int:
    from tcpbridge.wire import OBSERVER, ClientType
    cid = h.connect(peer)
    h.receive(cid, Encoder().encode_bytes(ClientType(OBSERVER)))
    return cid


def test_observers_get_a_copy_of_the_data_and_never_take_control() -> None:
    from tcpbridge.server import OBSERVING
    h = Harness(max_observers=2)
    watcher = observer(h, 'o:1')  # first to connect, still no control for it
    controller = h.hello('c:1')
    assert h.session.in_control.id == controller
    assert {c.id: c.role for c in h.session.clients}[watcher] == OBSERVING
    h.receive(controller, done(3.0, 4))
    copy, = Decoder(Side.OBSERVER).feed(h.sent(watcher))
    np.testing.assert_array_equal(copy.data.data[0].data[0], np.full(4, 3.0))  # pymodaq4 for observers
    assert isinstance(h.of(MessageReceived)[-1].message, Done)  # the plugin got it as before
    h.receive(controller, Encoder().encode_bytes(Infos('<a/>')))
    assert h.sent(watcher) == b''  # settings are not shared
    observer(h, 'o:2')
    observer(h, 'o:3')
    assert 'no room for an observer' in h.of(ClientRefused)[-1].reason


def test_a_slow_observer_is_dropped_and_an_observer_that_commands_too() -> None:
    h = Harness(max_observers=2, observer_queue_bytes=64 << 10)
    controller = h.hello('c:1')
    slow, talker = observer(h, 'o:1'), observer(h, 'o:2')
    for _ in range(3):
        h.receive(controller, done(1.0, 4096))  # 32 KiB each; the slow observer reads nothing
        h.sent(talker)
    assert 'observer too slow' in h.of(ClientLost)[-1].reason and h.of(ClientLost)[-1].client.id == slow
    h.receive(talker, Encoder().encode_bytes(Infos('<a/>')))
    assert 'sends nothing but Quit' in h.of(ClientLost)[-1].reason
    assert [c.id for c in h.session.clients] == [controller]


def test_observers_are_refused_unless_allowed() -> None:
    h = Harness()
    observer(h, 'o:1')
    assert 'no room for an observer: 0 of 0 allowed' in h.of(ClientRefused)[-1].reason


# -- acceptance and refusal notices (docs/protocol.rst §9.4) -------------------------------------------

def status(h: Harness, cid: int) -> list:
    """Ask the plugin whether ``cid`` was accepted; what it answered."""
    from tcpbridge.wire import StatusRequest
    h.receive(cid, Encoder().encode_bytes(StatusRequest()))
    return Decoder(Side.CLIENT).feed(h.sent(cid))


def test_a_client_that_asks_learns_whether_it_is_in_control_or_waits() -> None:
    from tcpbridge.wire import Accepted
    h = Harness(max_observers=1)
    first, second, watcher = h.hello('a:1'), h.hello('b:2'), observer(h, 'o:1')
    assert status(h, first) == [Accepted('in control')]
    assert status(h, second) == [Accepted('waiting')]
    assert status(h, watcher) == [Accepted('observer')]
    assert [c.id for c in h.session.clients] == [first, second, watcher]  # asking costs nothing


@pytest.mark.parametrize('case', ['wrong type', 'too many', 'wrong secret', 'no authentication'])
def test_a_client_refused_after_its_hello_gets_the_reason_before_the_close(case: str) -> None:
    from tcpbridge import ACTUATOR
    from tcpbridge.protocol.auth import response
    from tcpbridge.wire import AuthRequest, AuthResponse, ClientType, Refused
    h = Harness(max_clients=1, **({'auth_secret': 's3cret'} if 'secret' in case or 'auth' in case else {}))
    cid = h.hello('a:1') if case == 'too many' else h.connect()
    if case == 'wrong type':
        h.receive(cid, Encoder().encode_bytes(ClientType(ACTUATOR)))
    elif case == 'too many':  # max_clients=1, and the first is in control
        cid = h.hello('b:2')
    elif case == 'wrong secret':
        h.receive(cid, HELLO + Encoder().encode_bytes(AuthRequest()))
        nonce = Decoder(Side.CLIENT).feed(h.sent(cid))[0].nonce
        h.receive(cid, Encoder().encode_bytes(AuthResponse(response('guess', nonce, GRABBER))))
    else:
        h.receive(cid, HELLO + Encoder().encode_bytes(Infos('<a/>')))
    reason = h.of(ClientRefused)[-1].reason
    assert cid in h.session.pop_closed()
    notice = Decoder(Side.CLIENT).feed(b''.join(bytes(b) for b in h.session.farewell(cid)))
    assert notice == [Refused(reason)]
    assert h.session.farewell(cid) == []  # once


def test_a_connection_that_never_said_hello_gets_no_notice() -> None:
    """Its framing (classic or PyMoDAQ 5) is unknown, and it may be no client at all (a port scan)."""
    h = Harness(hello_timeout=1.0)
    cid = h.connect()
    h.advance(2.0)
    assert h.session.pop_closed() == [cid] and h.session.farewell(cid) == []
