"""The reference of every throughput ratio: a bare loopback TCP socket moving the same bytes.

Standard library and numpy only: ``pymodaq44_peer.py`` measures it inside PyMoDAQ 4.4's own virtual
environment, where tcpbridge is not installed, with the same sockets as ours.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Optional, Tuple

import numpy as np

#: socket buffers of both ends, bytes
BUFFER_BYTES = 4 << 20


def socket_pair() -> Tuple[socket.socket, socket.socket]:
    """A connected loopback TCP pair, ``TCP_NODELAY`` and 4 MiB buffers on both ends."""
    listener = socket.create_server(('127.0.0.1', 0))
    a = socket.create_connection(listener.getsockname())
    b, _ = listener.accept()
    listener.close()
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER_BYTES)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER_BYTES)
    return a, b


def timed_transfer(send: Callable[[], None], receive: Callable[[], object]) -> float:
    """Seconds from the start of the send to the end of the receive (sender in a thread)."""
    sender = threading.Thread(target=send)
    start = time.perf_counter()
    sender.start()
    receive()
    elapsed = time.perf_counter() - start
    sender.join()
    return elapsed


def bare_transfer(a: socket.socket, b: socket.socket, payload: bytes, into: Optional[bytearray] = None) -> float:
    """Seconds to move ``payload`` from ``a`` to ``b`` with ``sendall`` / ``recv_into``: into ``into``
    (one reused buffer) or, by default, into a new array (as a receiver that hands each frame on must)."""
    def receive() -> None:
        buffer = np.empty(len(payload), np.uint8) if into is None else into
        view, got = memoryview(buffer), 0
        while got < len(payload):
            got += b.recv_into(view[got:])
    return timed_transfer(lambda: a.sendall(payload), receive)
