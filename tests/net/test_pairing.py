"""Pairing replies with requests on real sockets (docs/protocol.rst §8):
random reply delays around the timeout, and a request read while a push is on its way."""
from __future__ import annotations

import logging
import random
import socket
import threading
import time
from typing import Dict, List

import numpy as np
import pytest

from helpers import EventLog, wait_until
from tcpbridge import ACTUATOR, ActuatorClient, GrabberClient
from tcpbridge.server import BridgeServer, ClientLost, MessageReceived, ReplyTimeout
from tcpbridge.wire import Decoder, Done, Encoder, Message, MoveAbs, MoveDone, SendData, Side, data_actuator

#: requests per dialect, the reply timeout, and the replies' delays: uniform over [0, 2 x timeout]
REQUESTS = 1000
TIMEOUT_S = 0.01


@pytest.mark.parametrize('dialect', ['legacy', 'pymodaq4'])
def test_replies_delayed_around_the_timeout_answer_their_own_request_or_none(dialect: str) -> None:
    """A stage whose moves take a random time around the reply timeout: every move_done the engine pairs
    with a request carries that request's target; every other request is reported timed out, and its
    connection closed (the client reconnects: the next request goes to a clean connection)."""
    rng = random.Random(31)
    delays: Dict[float, float] = {}

    def move_abs(target: float) -> float:
        time.sleep(delays[target])
        return target

    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, ACTUATOR, log)
    client = ActuatorClient('127.0.0.1', server.address[1], dialect=dialect, units='mm', move_abs=move_abs,
                            get_position=lambda: 0.0, retry_delay=0.001, max_retry_delay=0.005)
    thread = client.start()
    counts = {'answered': 0, 'timed out': 0, 'unsolicited': 0}
    try:
        for index in range(REQUESTS):
            wait_until(lambda: server.in_control is not None, 10, 'a client in control')
            target = float(index)
            delays[target] = rng.uniform(0, 2 * TIMEOUT_S)
            log.keep_last(0)
            request = server.send(MoveAbs(data_actuator(target, units='mm')), expect=(MoveDone,), timeout=TIMEOUT_S)
            if request is None:  # lost between the check and the send: the next round waits for it
                continue
            end = log.wait_for(lambda e, r=request: isinstance(e, (MessageReceived, ReplyTimeout))
                               and e.request_id == r)
            if isinstance(end, MessageReceived):
                assert isinstance(end.message, MoveDone) and _value(end.message) == target, (request, target, end)
                counts['answered'] += 1
            else:
                lost = log.wait_for(lambda e: isinstance(e, ClientLost))
                assert 'a late reply could be taken for the reply to a later request' in lost.reason
                counts['timed out'] += 1
            counts['unsolicited'] += sum(isinstance(e, MessageReceived) and isinstance(e.message, MoveDone) and
                                         not e.request_id for e in log.events)
    finally:
        client.stop()
        thread.join(10)
        server.close()
    # both outcomes happen often; an unsolicited move_done (of a connection that ended) never reaches the server
    assert counts['answered'] + counts['timed out'] >= 0.99 * REQUESTS, counts
    assert counts['answered'] > REQUESTS // 10 and counts['timed out'] > REQUESTS // 10, counts
    assert counts['unsolicited'] == 0, counts


def _value(message: MoveDone) -> float:
    """The position of a move_done: a scalar (legacy) or a DataActuator (pymodaq4)."""
    value = message.value
    return float(value) if np.isscalar(value) else float(value.data[0][0])


def test_a_request_read_while_a_push_is_on_its_way_is_answered_by_that_push_only(caplog) -> None:
    """The first push of a stream (16 MiB) is stuck in the socket while the server asks for data: the
    client must not grab and answer as well (the server pairs the push with its request; a second
    answer would be one frame too many)."""
    grabs: list = []
    with socket.create_server(('127.0.0.1', 0)) as listener, caplog.at_level(logging.DEBUG, 'tcpbridge.client'):
        client = GrabberClient('127.0.0.1', listener.getsockname()[1], reconnect=False,
                               grab=lambda dim: grabs.append(dim) or [np.zeros(1)])
        thread = client.start()
        server, _ = listener.accept()
        with server:
            server.settimeout(10)
            wait_until(client.connected.is_set, 10, 'the hello')
            pusher = threading.Thread(target=client.push, args=([np.full(2 << 20, 1.0)],))
            pusher.start()
            wait_until(lambda: len(server.recv(4 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT)) > 32 << 10, 10,
                       'the push to fill the socket buffers')
            server.sendall(Encoder().encode_bytes(SendData('1D')))  # read by the client mid-push
            wait_until(lambda: 'Send Data 1D answered by the data being pushed' in caplog.text, 10,
                       'the client to read the request')
            decoder = Decoder(Side.SERVER)
            received = read_until_done(server, decoder)      # the 16 MiB push
            pusher.join(10)
            client.push([np.array([2.0])])                   # the stream goes on: a second frame
            received += read_until_done(server, decoder)
        client.stop()
        thread.join(10)
    frames = [m.data[0] for m in received if isinstance(m, Done)]
    assert [f.size for f in frames] == [2 << 20, 1] and grabs == []


def read_until_done(sock: socket.socket, decoder: Decoder, timeout: float = 30.0) -> List[Message]:
    """The messages ``sock`` brings, up to and including the next ``Done``."""
    deadline, messages = time.monotonic() + timeout, []
    while not any(isinstance(m, Done) for m in messages):
        assert time.monotonic() < deadline, f'no Done within {timeout} s; got {messages}'
        data = sock.recv(1 << 20)
        assert data, 'the client closed the connection'
        messages += decoder.feed(data)
    return messages

