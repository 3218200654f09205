"""Protocol core and transport on loopback, against a bare socket moving the same bytes (same run).

* 8 MiB frame (2048x2048 uint16): encoder + socket + decoder vs ``sendall`` + ``recv_into`` of the
  same bytes, both dialects, interleaved repeats, median throughputs and their ratio;
* peak memory (tracemalloc) while receiving one frame, in frames;
* tiny command round trip (``move_abs`` -> ``move_done``) through the core, and through the server
  engine + ActuatorClient (threads included).
"""
from __future__ import annotations

import random
import socket
import threading
import time
import tracemalloc
from typing import Dict, List

import numpy as np
from baseline import bare_transfer, socket_pair, timed_transfer
from report import percentile, row

from tcpbridge import (
    ACTUATOR,
    GRABBER,
    ActuatorClient,
    BridgeServer,
    ClientType,
    Decoder,
    Dialect,
    Done,
    Encoder,
    MessageReceived,
    MoveAbs,
    MoveDone,
    Role,
    data_actuator,
)
from tcpbridge.net.transport import send_buffers

FRAME = (np.arange(2048 * 2048, dtype=np.uint16) * 7).reshape(2048, 2048)
REPEATS = 30


PAYLOAD = FRAME.tobytes()
REUSED = bytearray(len(PAYLOAD))


def bare(a: socket.socket, b: socket.socket, fresh: bool = False) -> float:
    """The frame's bytes over a bare socket, into one reused buffer or a new one per frame."""
    return bare_transfer(a, b, PAYLOAD, None if fresh else REUSED)


def bridge(a: socket.socket, b: socket.socket, dialect: Dialect) -> float:
    encoder = Encoder(dialect)
    decoder = Decoder(Role.SERVER)
    decoder.feed(encoder.encode_bytes(ClientType(GRABBER)))

    def receive() -> None:
        while True:
            n = b.recv_into(decoder.get_buffer())
            decoder.buffer_updated(n)
            messages = decoder.pop_messages()
            if messages:
                data = messages[0].data
                array = data[0] if dialect is Dialect.LEGACY else data.data[0].data[0]
                assert array.shape == FRAME.shape
                return
    return timed_transfer(lambda: send_buffers(a, encoder.encode(Done([FRAME]))), receive)


def peak_receive_memory(dialect: Dialect) -> float:
    a, b = socket_pair()
    encoder = Encoder(dialect)
    decoder = Decoder(Role.SERVER)
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
    to_client, to_server = Decoder(Role.CLIENT), Decoder(Role.SERVER)
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
    """move_abs -> move_done through BridgeServer (engine thread) and ActuatorClient (its threads)."""
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
                            move_abs=lambda target: position.__setitem__(0, target))
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
    kinds = {'bare': lambda: bare(a, b), 'bare_fresh_buffer': lambda: bare(a, b, fresh=True),
             'legacy': lambda: bridge(a, b, Dialect.LEGACY), 'pymodaq4': lambda: bridge(a, b, Dialect.PYMODAQ4)}
    runs: Dict[str, List[float]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for kind in order:  # warm-up
        kinds[kind]()
    for _ in range(REPEATS):  # interleaved in a shuffled order: machine noise hits all alike
        random.shuffle(order)
        for kind in order:
            runs[kind].append(kinds[kind]())
    a.close(), b.close()
    mib = FRAME.nbytes / (1 << 20)
    case = f'8 MiB frame (2048x2048 uint16) encoder -> socket -> decoder, {REPEATS} repeats'
    speeds = {kind: [mib / t for t in times] for kind, times in runs.items()}
    rows = [row('bare loopback socket', case, 'MiB/s', speeds['bare']),
            row('bare loopback socket, new array per frame', case, 'MiB/s', speeds['bare_fresh_buffer'])]
    for dialect in ('legacy', 'pymodaq4'):
        rows.append(row(f'tcpbridge core {dialect}', case, 'MiB/s', speeds[dialect],
                        [s / b for s, b in zip(speeds[dialect], speeds['bare'])], 'bare loopback socket'))
    for dialect in (Dialect.LEGACY, Dialect.PYMODAQ4):
        rows.append(row(f'tcpbridge core {dialect.value}', 'peak memory while receiving one 8 MiB frame',
                        'frames', [peak_receive_memory(dialect)]))
    rows += round_trip_rows('tcpbridge core legacy', 'move_abs -> move_done, encoder + socket + decoder, no threads',
                            core_round_trips())
    for dialect in (Dialect.LEGACY, Dialect.PYMODAQ4):
        rows += round_trip_rows(f'tcpbridge engine {dialect.value}',
                                'move_abs -> move_done, BridgeServer + ActuatorClient threads',
                                engine_round_trips(dialect))
    return {'rows': rows}

if __name__ == '__main__':
    import json
    print(json.dumps(main(), indent=2))
