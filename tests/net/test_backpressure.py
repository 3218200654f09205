"""Back-pressure (tcpbridge.net.backlog): the engine stops reading the client in control while what it
delivered is not released, the sender is slowed by TCP, nothing is lost, the client is not dropped
for the wait; holds nobody releases end by themselves.  Real sockets on 127.0.0.1, a real client."""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterator, List

import numpy as np
import pytest

from helpers import EventLog, wait_until
from tcpbridge import GRABBER, GrabberClient
from tcpbridge.server import BacklogLimits, BridgeServer, ClientLost, Event, MessageReceived
from tcpbridge.wire import Done

#: 128 KiB per data set: each is received into a buffer of its own (above the decoder's direct threshold)
FRAME = 16 * 1024


@pytest.fixture
def streaming() -> Iterator:
    """start(limits, count, frame=FRAME, **policies) -> (server, log, pushed: list of the indexes pushed so
    far, pusher thread); each data set is ``frame`` float64 values."""
    stops: List[Callable[[], object]] = []

    def start(limits: BacklogLimits, count: int, frame: int = FRAME, **policies: object) -> tuple:
        log = EventLog()
        server = BridgeServer('127.0.0.1', 0, GRABBER, log, backlog=limits, **policies)
        client = GrabberClient('127.0.0.1', server.address[1], grab=lambda dim: [np.zeros(1)])
        client.start()
        stops.extend([server.close, client.stop])
        assert client.connected.wait(10)
        pushed: List[int] = []

        def push() -> None:
            for index in range(count):
                try:
                    client.push([np.full(frame, float(index))])
                except OSError:  # the test ended with the pusher still blocked (ConnectionLost included)
                    return
                pushed.append(index)
        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        return server, log, pushed, pusher
    yield start
    for stop in reversed(stops):
        stop()


def data_received(log: EventLog) -> List[MessageReceived]:
    return [e for e in log.of_type(MessageReceived) if isinstance(e.message, Done)]


def index_of(event: MessageReceived) -> int:
    return int(event.message.data[0][0])


def test_reading_pauses_until_the_consumer_releases_and_nothing_is_lost(streaming) -> None:
    limits = BacklogLimits(max_messages=8, max_bytes=1 << 30, max_hold_s=600)
    server, log, pushed, pusher = streaming(limits, 400, message_timeout=0.3)
    wait_until(lambda: server.backlog[2], what='the backlog over its bound')
    held = len(data_received(log))  # (the client's Infos is held too)
    # the sender fills the socket buffers and blocks; we wait for that, not for a time (the join alone
    # keeps the pause going longer than message_timeout: it must not be taken for a slow client)
    wait_until(lambda: len(pushed) < 400 and not pusher.join(0.5) and pusher.is_alive(),
               what='the pusher blocked by TCP')
    assert len(data_received(log)) == held <= limits.max_messages + 2  # no read while paused
    assert not log.of_type(ClientLost)
    released = 0
    deadline = time.monotonic() + 60
    while released < 400 and time.monotonic() < deadline:  # a consumer that keeps up from now on
        events = data_received(log)
        for event in events[released:]:
            assert event.release is not None
            event.release()
            event.release()  # a second call does nothing
        released = len(events)
        time.sleep(0.001)
    pusher.join(10)
    assert [index_of(e) for e in data_received(log)] == list(range(400))
    assert not log.of_type(ClientLost)
    log.of_type(MessageReceived)[0].release()  # the client's Infos
    assert server.backlog == (0, 0, False)


def test_holds_nobody_releases_end_by_themselves(streaming) -> None:
    limits = BacklogLimits(max_messages=4, max_bytes=1 << 30, max_hold_s=0.05)
    server, log, pushed, pusher = streaming(limits, 60)
    wait_until(lambda: len(data_received(log)) == 60, timeout=30, what='all data sets, slowed')
    assert [index_of(e) for e in data_received(log)] == list(range(60))
    wait_until(lambda: server.backlog == (0, 0, False), what='the last holds to expire')


def test_the_byte_bound_pauses_too(streaming) -> None:
    limits = BacklogLimits(max_messages=1000, max_bytes=4 * FRAME * 8, max_hold_s=600)
    server, log, pushed, pusher = streaming(limits, 200)
    wait_until(lambda: server.backlog[2], what='the backlog over its byte bound')
    wait_until(lambda: len(pushed) < 200 and not pusher.join(0.5) and pusher.is_alive(),
               what='the pusher blocked by TCP')
    messages, nbytes, paused = server.backlog
    assert paused and nbytes <= limits.max_bytes + 2 * (FRAME * 8 + 1024)
    for event in log.of_type(MessageReceived):
        event.release()
    wait_until(lambda: not server.backlog[2], what='reading resumed')
    wait_until(lambda: len(data_received(log)) > messages, what='data after the pause')


def test_small_data_sets_stay_within_the_count_bound(streaming) -> None:
    """0D data sets are ~50 bytes: one receive completes thousands of them; no more than there is room for
    are handed over, the others wait decoded until reading resumes, in order."""
    limits = BacklogLimits(max_messages=20, max_bytes=1 << 30, max_hold_s=600)
    server, log, pushed, pusher = streaming(limits, 200_000, frame=1)
    wait_until(lambda: server.backlog[2] and len(pushed) > len(data_received(log)) + 2000,
               what='paused with thousands of data sets waiting in the socket')
    messages, _, paused = server.backlog
    assert paused and messages == limits.max_messages + 1
    log.of_type(MessageReceived)[0].release()  # the client's Infos
    for _ in range(3):  # resumed at half: each receive again completes no more than there is room for
        held = data_received(log)
        for event in held[:len(held) - limits.max_messages // 2]:
            event.release()
        before = len(held)
        wait_until(lambda: server.backlog[2] and len(data_received(log)) > before  # noqa: B023 (waited on here)
                   and len(pushed) > len(data_received(log)) + 2000, what='paused again, thousands waiting')
        assert server.backlog[0] == limits.max_messages + 1
    assert [index_of(e) for e in data_received(log)] == list(range(len(data_received(log))))


def test_room_counts_down_to_the_bound_and_is_none_while_over_and_the_pause_is_remembered() -> None:
    from tcpbridge.net.backlog import DeliveryBacklog
    resumed: List[bool] = []
    backlog = DeliveryBacklog(BacklogLimits(max_messages=4, max_bytes=10_000), on_resume=lambda: resumed.append(True))
    assert backlog.room() == 5 and not backlog.paused_within(60.0)  # reading stops at more than 4
    releases = [backlog.hold(10, 0.0) for _ in range(5)]
    assert backlog.over and backlog.room() == 0
    for release in releases[:3]:
        release()
    assert resumed == [True] and not backlog.over and backlog.room() == 3
    assert backlog.paused_within(60.0) and not backlog.paused_within(0.0)  # the pause just ended
    backlog.hold(20_000, 0.0)  # the byte bound
    assert backlog.over and backlog.room() == 0


def test_messages_held_back_are_handed_over_when_releases_keep_the_backlog_under_its_bound() -> None:
    """A consumer as fast as the engine releases each data set as it comes: the backlog never fills, so
    no resumption wakes the loop; what one receive completed beyond the room must be handed over anyway."""
    log = EventLog()

    def consume(event: Event) -> None:
        log(event)
        if isinstance(event, MessageReceived):
            event.release()
    server = BridgeServer('127.0.0.1', 0, GRABBER, consume,
                          backlog=BacklogLimits(max_messages=10, max_bytes=1 << 30, max_hold_s=600))
    client = GrabberClient('127.0.0.1', server.address[1], grab=lambda dim: [np.zeros(1)])
    client.start()
    try:
        assert client.connected.wait(10)
        for index in range(3000):  # ~150 kB: receives of many data sets each, then the client is silent
            client.push([np.full(1, float(index))])
        wait_until(lambda: len(data_received(log)) == 3000, timeout=20, what='every data set')
        assert [index_of(e) for e in data_received(log)] == list(range(3000))
    finally:
        client.stop()
        server.close()
