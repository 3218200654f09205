"""Observers must not slow the client in control: a grabber pushes 512x512 uint16 frames into the
server engine, alone and with three observers (two reading, in processes of their own as on other
PCs, and one stalled), interleaved repeats in one run; frames/s at the server and the ratio
with/without observers.  On a 2-core machine the observers' processes compete for the cores."""
from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List

import numpy as np
from report import row

from tcpbridge import GRABBER, GrabberClient
from tcpbridge.server import BridgeServer, MessageReceived
from tcpbridge.wire import OBSERVER, ClientType, Done, Encoder

FRAME = np.arange(512 * 512, dtype=np.uint16).reshape(512, 512)
FRAMES = 200
#: an observer on "another PC": its own process, it prints 'connected' then reads until killed
WATCHER = """
import sys
from tcpbridge import ObserverClient
watcher = ObserverClient(port=int(sys.argv[1]), keep=8)
thread = watcher.start()
watcher.connected.wait(10)
print('connected', flush=True)
thread.join()
"""
REPEATS = 5


def frames_per_second(observers: int, rate: float = 0.0) -> float:
    """Frames per second at the server for FRAMES pushed as fast as possible (``rate`` 0) or paced
    at ``rate`` Hz (as a camera acquires)."""
    received = threading.Semaphore(0)

    def on_event(event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, Done):
            received.release()
    server = BridgeServer('127.0.0.1', 0, GRABBER, on_event, max_observers=3, observer_queue_bytes=8 << 20)
    port = server.address[1]
    watchers = [subprocess.Popen([sys.executable, '-c', WATCHER, str(port)], stdout=subprocess.PIPE, text=True)
                for _ in range(min(observers, 2))]
    for w in watchers:
        assert w.stdout is not None and w.stdout.readline().strip() == 'connected'

    stalled = None
    if observers > 2:
        stalled = socket.create_connection(server.address)
        stalled.sendall(Encoder().encode_bytes(ClientType(OBSERVER)))
    grabber = GrabberClient(port=port, dialect='pymodaq4')
    grabber_thread = grabber.start()
    grabber.connected.wait(10)
    start = time.perf_counter()
    for index in range(FRAMES):
        if rate:
            time.sleep(max(0.0, start + index / rate - time.perf_counter()))
        grabber.push([FRAME])
    for _ in range(FRAMES):
        received.acquire(timeout=30)
    elapsed = time.perf_counter() - start
    grabber.stop()
    grabber_thread.join(10)
    for w in watchers:
        w.terminate()
        w.wait(10)
    if stalled is not None:
        stalled.close()
    server.close()
    return FRAMES / elapsed


def compare(rate: float) -> List[Dict[str, object]]:
    runs: Dict[int, List[float]] = {0: [], 3: []}
    ratios: List[float] = []
    for _ in range(REPEATS):
        order = [0, 3]
        random.shuffle(order)
        took = {n: frames_per_second(n, rate) for n in order}
        for n, fps in took.items():
            runs[n].append(fps)
        ratios.append(took[3] / took[0])
    pace = f'at {rate:g} Hz' if rate else 'as fast as loopback goes'
    case = f'512x512 uint16 frames pushed {pace} by the client in control, {REPEATS} repeats'
    return [row('tcpbridge engine, no observer', case, 'frames/s', runs[0]),
            row('tcpbridge engine, 3 observers (1 stalled)', case, 'frames/s', runs[3], ratios,
                'tcpbridge engine, no observer')]


def main() -> Dict[str, object]:
    return {'rows': compare(100.0) + compare(0.0)}

if __name__ == '__main__':
    import json
    print(json.dumps(main(), indent=2))
