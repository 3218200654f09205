"""Protocol core and transport on loopback, against a bare socket moving the same bytes (same run).

* 8 MiB frame (2048x2048 uint16): encoder + socket + decoder vs ``sendall`` + ``recv_into`` of the
  same bytes, both dialects, interleaved repeats, median throughputs and their ratio (one encoder and
  decoder per dialect, as one connection has: the first frame of a connection is a row of its own, its
  buffer fresh from the OS);
* the same frame asked by the server engine (``BridgeServer``, its thread) of a ``GrabberClient`` (its
  thread), with and without the receive low-water mark (:mod:`tcpbridge.net.low_water`);
* peak memory (tracemalloc) while receiving one frame, in frames;
* tiny command round trip (``move_abs`` -> ``move_done``) through the core, and through the server
  engine + ActuatorClient (threads included).
"""
from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
import tracemalloc
from typing import Dict, List
from unittest import mock

import numpy as np
from baseline import bare_transfer, socket_pair, timed_transfer
from report import percentile, row

from tcpbridge import ACTUATOR, GRABBER, ActuatorClient, Dialect, GrabberClient
from tcpbridge.net.low_water import ReceiveLowWater
from tcpbridge.net.transport import send_buffers
from tcpbridge.server import BridgeServer, MessageReceived
from tcpbridge.wire import ClientType, Decoder, Done, Encoder, MoveAbs, MoveDone, SendData, Side, data_actuator

FRAME = (np.arange(2048 * 2048, dtype=np.uint16) * 7).reshape(2048, 2048)
REPEATS = 30
#: frames timed together in each repeat of a kind (one frame takes a few ms: alone, a scheduling hiccup
#: of the shared machine would decide its figure)
FRAMES_PER_REPEAT = 5


PAYLOAD = FRAME.tobytes()
REUSED = bytearray(len(PAYLOAD))


def bare(a: socket.socket, b: socket.socket, fresh: bool = False) -> float:
    """The frame's bytes over a bare socket, into one reused buffer or a new one per frame."""
    return bare_transfer(a, b, PAYLOAD, None if fresh else REUSED)


class CoreFrames:
    """Frames of one connection through the core: one encoder and one decoder (whose buffer pool
    reuses a frame's buffer once the frame is dropped)."""

    def __init__(self, a: socket.socket, b: socket.socket, dialect: Dialect) -> None:
        self.a, self.b, self.dialect = a, b, dialect
        self.encoder = Encoder(dialect)
        self.decoder = Decoder(Side.SERVER)
        self.decoder.feed(self.encoder.encode_bytes(ClientType(GRABBER)))

    def seconds(self) -> float:
        """Seconds to move one frame, from encoding to the decoded array."""
        def receive() -> None:
            while True:
                n = self.b.recv_into(self.decoder.get_buffer())
                self.decoder.buffer_updated(n)
                messages = self.decoder.pop_messages()
                if messages:
                    data = messages[0].data
                    array = data[0] if self.dialect is Dialect.LEGACY else data.data[0].data[0]
                    assert array.shape == FRAME.shape
                    return
        return timed_transfer(lambda: send_buffers(self.a, self.encoder.encode(Done([FRAME]))), receive)


def first_frames(a: socket.socket, b: socket.socket, dialect: Dialect) -> float:
    """Seconds for the first frame of a new connection's decoder (its buffer fresh from the OS)."""
    return CoreFrames(a, b, dialect).seconds()


class EngineFrames:
    """Frames asked by the server engine (``Send Data 2D``) and sent by a GrabberClient thread."""

    def __init__(self, dialect: Dialect) -> None:
        self._done = threading.Event()
        self.server = BridgeServer('127.0.0.1', 0, GRABBER, self._on_event)
        self.client = GrabberClient(port=self.server.address[1], dialect=dialect, grab=lambda dim: [FRAME])
        self.thread = self.client.start()
        if not self.client.connected.wait(10):
            raise RuntimeError('the GrabberClient did not connect')

    def _on_event(self, event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, Done):
            self._done.set()

    def seconds(self, low_water: bool = True) -> float:
        """Seconds from the request to the frame received; ``low_water`` False: SO_RCVLOWAT left at 1."""
        with contextlib.ExitStack() as stack:
            if not low_water:
                stack.enter_context(mock.patch.object(ReceiveLowWater, 'follow', lambda self, missing: None))
            self._done.clear()
            start = time.perf_counter()
            self.server.send(SendData('2D'))
            if not self._done.wait(10):
                raise RuntimeError('no frame within 10 s')
            return time.perf_counter() - start

    def close(self) -> None:
        self.client.stop()
        self.thread.join(5)
        self.server.close()


def peak_receive_memory(dialect: Dialect) -> float:
    a, b = socket_pair()
    encoder = Encoder(dialect)
    decoder = Decoder(Side.SERVER)
    decoder.feed(encoder.encode_bytes(ClientType(GRABBER)))
    buffers = encoder.encode(Done([FRAME]))
    tracemalloc.start()
    sender = threading.Thread(target=send_buffers, args=(a, buffers))
    sender.start()
    while not decoder.pop_messages():
        decoder.buffer_updated(b.recv_into(decoder.get_buffer()))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    sender.join()
    a.close(), b.close()
    return peak / FRAME.nbytes


def core_round_trips(n: int = 3000) -> List[float]:
    """move_abs -> move_done through encoder, socket, decoder, both ways, no threads."""
    server_side, client_side = socket_pair()
    encoder = Encoder(Dialect.LEGACY)
    to_client, to_server = Decoder(Side.CLIENT), Decoder(Side.SERVER)
    to_server.feed(encoder.encode_bytes(ClientType(ACTUATOR)))
    command = encoder.encode(MoveAbs(1.5))
    times = []
    for _ in range(n):
        start = time.perf_counter()
        send_buffers(server_side, command)
        while not (got := to_client.pop_messages()):
            to_client.buffer_updated(client_side.recv_into(to_client.get_buffer()))
        send_buffers(client_side, encoder.encode(MoveDone(got[0].value)))
        while not to_server.pop_messages():
            to_server.buffer_updated(server_side.recv_into(to_server.get_buffer()))
        times.append(time.perf_counter() - start)
    return times


def engine_round_trips(dialect: Dialect, n: int = 2000) -> List[float]:
    """move_abs -> move_done through BridgeServer (engine thread) and ActuatorClient (its connection thread:
    the moves return at once and it is told so, ``instant_moves=True``)."""
    done = threading.Event()
    ready = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, MessageReceived):
            if isinstance(event.message, MoveDone):
                done.set()
            else:
                ready.set()
    server = BridgeServer('127.0.0.1', 0, ACTUATOR, on_event, probe_position=True)
    position = [0.0]
    client = ActuatorClient(port=server.address[1], dialect=dialect, get_position=lambda: position[0],
                            move_abs=lambda target: position.__setitem__(0, target), instant_moves=True)
    thread = client.start()
    ready.wait(10)
    times = []
    for i in range(n):
        done.clear()
        start = time.perf_counter()
        server.send(MoveAbs(data_actuator(float(i), 'mm')))
        done.wait(5)
        times.append(time.perf_counter() - start)
    client.stop()
    thread.join(5)
    server.close()
    return times


def round_trip_rows(system: str, case: str, times: List[float]) -> List[Dict[str, object]]:
    """p50, p99 and rate of round trips (seconds each) as table rows."""
    return [row(system, f'{case}: p50', 'ms', [1000 * percentile(times, 0.5)]),
            row(system, f'{case}: p99', 'ms', [1000 * percentile(times, 0.99)]),
            row(system, f'{case}: rate', 'round trips/s', [len(times) / sum(times)])]


def main() -> Dict[str, object]:
    a, b = socket_pair()
    core = {dialect: CoreFrames(a, b, dialect) for dialect in (Dialect.LEGACY, Dialect.PYMODAQ4)}
    engine = EngineFrames(Dialect.LEGACY)
    kinds = {'bare': lambda: bare(a, b), 'bare_fresh_buffer': lambda: bare(a, b, fresh=True),
             'legacy': core[Dialect.LEGACY].seconds, 'pymodaq4': core[Dialect.PYMODAQ4].seconds,
             'legacy_first': lambda: first_frames(a, b, Dialect.LEGACY),
             'engine': engine.seconds, 'engine_no_mark': lambda: engine.seconds(low_water=False)}
    runs: Dict[str, List[float]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for kind in order:  # warm-up
        kinds[kind]()
    for _ in range(REPEATS):  # interleaved in a shuffled order: machine noise hits all alike
        random.shuffle(order)
        for kind in order:
            runs[kind].append(sum(kinds[kind]() for _ in range(FRAMES_PER_REPEAT)))
    a.close(), b.close()
    engine.close()
    mib = FRAMES_PER_REPEAT * FRAME.nbytes / (1 << 20)
    case = f'8 MiB frame (2048x2048 uint16) encoder -> socket -> decoder, {REPEATS}x{FRAMES_PER_REPEAT} frames'
    speeds = {kind: [mib / t for t in times] for kind, times in runs.items()}
    rows = [row('bare loopback socket', case, 'MiB/s', speeds['bare']),
            row('bare loopback socket, new array per frame', case, 'MiB/s', speeds['bare_fresh_buffer'])]
    systems = {'legacy': 'tcpbridge core legacy', 'pymodaq4': 'tcpbridge core pymodaq4',
               'legacy_first': "tcpbridge core legacy, a connection's first frame",
               'engine': 'tcpbridge engine + GrabberClient threads, legacy',
               'engine_no_mark': 'tcpbridge engine + GrabberClient threads, legacy, no SO_RCVLOWAT'}
    for kind, system in systems.items():
        rows.append(row(system, case, 'MiB/s', speeds[kind],
                        [s / b for s, b in zip(speeds[kind], speeds['bare'])], 'bare loopback socket'))
    for dialect in (Dialect.LEGACY, Dialect.PYMODAQ4):
        rows.append(row(f'tcpbridge core {dialect.value}', 'peak memory while receiving one 8 MiB frame',
                        'frames', [peak_receive_memory(dialect)]))
    rows += round_trip_rows('tcpbridge core legacy', 'move_abs -> move_done, encoder + socket + decoder, no threads',
                            core_round_trips())
    for dialect in (Dialect.LEGACY, Dialect.PYMODAQ4):
        rows += round_trip_rows(f'tcpbridge engine {dialect.value}',
                                'move_abs -> move_done, BridgeServer + ActuatorClient threads, instant moves',
                                engine_round_trips(dialect))
    return {'rows': rows}

if __name__ == '__main__':
    import json
    print(json.dumps(main(), indent=2))
