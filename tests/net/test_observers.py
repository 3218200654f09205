"""Observers (tcpbridge extension) on real sockets: three observers of a streaming 2D grabber, one of
which never reads: it is dropped, the two others receive every frame the server received, in order,
and the grabber in control is never held back."""
from __future__ import annotations

import socket

import numpy as np

from helpers import EventLog, wait_until
from tcpbridge import GRABBER, ObserverClient, SimulatedDetector
from tcpbridge.server import BridgeServer, ClientConnected, ClientLost, MessageReceived
from tcpbridge.wire import OBSERVER, ClientType, Done, Encoder

FRAMES = 64
#: an observer's queue bound: a live observer's thread starved for a while on a loaded machine must stay
#: within it (CI once dropped one at 2 MiB), while the one that never reads passes it well before the end
QUEUE_BYTES = 8 << 20


def test_observers_receive_every_frame_and_a_stalled_one_is_dropped() -> None:
    log = EventLog()
    server = BridgeServer('127.0.0.1', 0, GRABBER, log, max_observers=3, observer_queue_bytes=QUEUE_BYTES)
    port = server.address[1]
    watchers = [ObserverClient(port=port, keep=FRAMES * 2) for _ in range(2)]
    threads = [w.start() for w in watchers]
    stalled = socket.create_connection(server.address)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never reads
    stalled.sendall(Encoder().encode_bytes(ClientType(OBSERVER)))
    detector = SimulatedDetector(port=port, dim='2D', shape=(512, 512), dtype='uint16', pattern=True)
    try:
        wait_until(lambda: len(log.of_type(ClientConnected)) == 3, 10, 'the observers')
        detector_thread = detector.start()
        log.wait_for(lambda e: isinstance(e, ClientConnected) and e.client.in_control)
        for _ in range(FRAMES):  # 512 KiB frames (32 MiB in all) pushed as fast as the grabber goes
            detector.push(detector.grab('2D'))
        wait_until(lambda: len([e for e in log.of_type(MessageReceived) if isinstance(e.message, Done)]) == FRAMES,
                   20, 'every frame at the server')
        dropped = log.wait_for(lambda e: isinstance(e, ClientLost) and 'observer too slow' in e.reason)
        host, stalled_port = stalled.getsockname()[:2]
        assert (dropped.client.role, dropped.client.peer) == ('observing', f'{host}:{stalled_port}')
        sent = [e.message.data[0] for e in log.of_type(MessageReceived) if isinstance(e.message, Done)]
        got: list = [[], []]

        def collected() -> bool:
            for frames, watcher in zip(got, watchers):
                frames.extend(watcher.messages())
            return all(len(frames) == FRAMES for frames in got)
        try:
            wait_until(collected, 20, 'every frame at both observers')
        except AssertionError as error:
            lost = [f'{e.client.peer} ({e.client.role}): {e.reason}' for e in log.of_type(ClientLost)]
            raise AssertionError(f'{error}: they got {[len(frames) for frames in got]} of {FRAMES}; '
                                 f'connections lost: {lost}') from None
        for frames in got:
            for mine, copy in zip(sent, frames):
                np.testing.assert_array_equal(copy.data.data[0].data[0], mine)
        detector.stop()
        detector_thread.join(10)
    finally:
        stalled.close()
        for w in watchers:
            w.stop()
        for t in threads:
            t.join(10)
        server.close()
