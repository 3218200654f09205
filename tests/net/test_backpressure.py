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
from tcpbridge import GRABBER, BacklogLimits, BridgeServer, ClientLost, Done, GrabberClient, MessageReceived

#: 128 KiB per data set: each is received into a buffer of its own (above the decoder's direct threshold)
FRAME = 16 * 1024


@pytest.fixture
def streaming() -> Iterator:
    """start(limits, **policies) -> (server, log, pushed: list of the indexes pushed so far, pusher thread)."""
    stops: List[Callable[[], object]] = []

    def start(limits: BacklogLimits, count: int, **policies: object) -> tuple:
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
                    client.push([np.full(FRAME, float(index))])
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
