"""Long hostile-input runs against the decoder, the server engine and the real plugins (the bounded
versions are in ``tests/``).  ``python benchmarks/stress.py [case ...] [--scale X]`` prints a JSON
report; every case ends by itself.  Cases:

- ``decoder``: mutated valid messages of every dialect and direction (1 000 000 inputs), all
  chunkings: every outcome is a message or a ProtocolError.
- ``engine``: 20 000 hostile connections (mutated streams) against a BridgeServer, each followed by
  a grab of the client in control.
- ``plugins``: 5 000 hostile connections against the real DAQ_1DViewer_TCPServer, each followed by
  a grab through PyMoDAQ (``grab_data`` -> ``dte_signal``).
- ``slowloris``: 200 connections sending 1 byte/s for 60 s while the client in control streams and
  is asked for data; then a fresh client must be accepted.
- ``silence``: 8 connections that say hello and go silent, the first one in control; a fresh client
  must take over (demotion) and be served.
- ``claim``: a 1 GiB array announced and trickled, and a client that does not read: server memory.
- ``soak``: 10 minutes of a pushing grabber and a moving actuator through one engine each: frames
  lost, duplicated, reordered; RSS, file descriptors and threads at start, middle and end.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / 'tests'))

from corpus import chunks, client_streams, decoder, mutate, server_streams  # noqa: E402

from helpers import EventLog  # noqa: E402
from tcpbridge import ACTUATOR, GRABBER, ActuatorClient, GrabberClient, Limits  # noqa: E402
from tcpbridge.server import (  # noqa: E402
    BridgeServer,
    ClientConnected,
    ClientLost,
    ControlChanged,
    EngineStopped,
    Event,
    MessageReceived,
)
from tcpbridge.wire import Done, MoveAbs, MoveDone, ProtocolError, SendData  # noqa: E402

GRABBER_STREAMS = [data for name, data in client_streams() if name.startswith('grabber')]


def rss_mib() -> float:
    """Resident memory of this process (Linux), MiB."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def open_fds() -> int:
    return len(os.listdir('/proc/self/fd'))


class Events(EventLog):
    """Engine events, counted and awaited (the tests' EventLog, answering False on a timeout)."""

    @property
    def items(self) -> List[Event]:
        return self.events

    def wait(self, predicate: Callable[[Event], bool], timeout: float, after: int = 0) -> bool:
        try:
            self.wait_for(predicate, timeout, after)
        except AssertionError:
            return False
        return True

    def count(self, kind: type) -> int:
        return len(self.of_type(kind))


def grab(server: BridgeServer, events: Events, timeout: float = 5.0) -> bool:
    after = len(events.items)
    return server.send(SendData('1D'), expect=(Done,), timeout=timeout) and events.wait(
        lambda e: isinstance(e, MessageReceived) and isinstance(e.message, Done), timeout, after)


def served_grabber(port: int, **kwargs: object) -> GrabberClient:
    client = GrabberClient('127.0.0.1', port, grab=lambda dim: [np.arange(16.0)], retry_delay=0.05,
                           max_retry_delay=0.5, **kwargs)
    client.start()
    return client


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# -- cases -------------------------------------------------------------------------------------------

def case_decoder(scale: float) -> Dict:
    inputs = int(1_000_000 * scale)
    streams = client_streams() + server_streams()
    rng = random.Random(1)
    limits = Limits(max_payload_bytes=4 << 20, max_string_bytes=1 << 20, max_list_length=4096)
    outcomes: Dict[str, int] = {}
    started = time.perf_counter()
    for i in range(inputs):
        name, data = streams[i % len(streams)]
        stream_decoder = decoder(name, limits)
        try:
            for piece in chunks(mutate(data, rng), rng):
                stream_decoder.feed(piece)
            key = 'decoded'
        except ProtocolError as error:
            key = type(error).__name__
        except Exception as error:  # the failure this case looks for
            key = f'CRASH {type(error).__name__}: {error}'
        outcomes[key] = outcomes.get(key, 0) + 1
    crashes = {k: v for k, v in outcomes.items() if k.startswith('CRASH')}
    return {'inputs': inputs, 'seconds': round(time.perf_counter() - started, 1), 'crashes': crashes,
            'outcomes': dict(sorted(outcomes.items(), key=lambda kv: -kv[1]))}


def case_engine(scale: float) -> Dict:
    connections = int(20_000 * scale)
    events = Events()
    server = BridgeServer('127.0.0.1', 0, GRABBER, events)
    client = served_grabber(server.address[1])
    wait_for(lambda: server.in_control is not None, 10)
    rng = random.Random(2)
    rss = [rss_mib()]
    served = 0
    started = time.perf_counter()
    for i in range(connections):
        try:
            with socket.create_connection(server.address[:2], timeout=5) as sock:
                sock.sendall(mutate(rng.choice(GRABBER_STREAMS), rng))
        except OSError:
            pass
        served += int(grab(server, events))
        if i % (connections // 4 or 1) == 0:
            rss.append(rss_mib())
    client.stop()
    result = {'hostile_connections': connections, 'controller_served': served,
              'served_ratio': round(served / connections, 5), 'engine_deaths': events.count(EngineStopped),
              'engine_running': server.running, 'seconds': round(time.perf_counter() - started, 1),
              'rss_mib': [round(r) for r in rss + [rss_mib()]]}
    server.close()
    return result


def case_plugins(scale: float) -> Dict:
    os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
    from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config
    redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-stress-')))
    from pymodaq.utils.plugin_testing import grab_and_wait, make_detector

    from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_1D.daq_1Dviewer_TCPServer import DAQ_1DViewer_TCPServer
    connections = int(5_000 * scale)
    plugin = make_detector(DAQ_1DViewer_TCPServer, port_id=0)
    client = served_grabber(plugin.bridge.address[1])
    from qtpy.QtWidgets import QApplication
    wait_for(lambda: (QApplication.processEvents(), plugin.client_connected)[1], 10)
    rng = random.Random(3)
    served = 0
    started = time.perf_counter()
    for _ in range(connections):
        try:
            with socket.create_connection(plugin.bridge.address[:2], timeout=5) as sock:
                sock.sendall(mutate(rng.choice(GRABBER_STREAMS), rng))
        except OSError:
            pass
        try:
            served += int(grab_and_wait(plugin, timeout_ms=5000)[0].data[0][3] == 3.0)
        except Exception:  # a grab that timed out counts as not served
            pass
    result = {'hostile_connections': connections, 'grabs_served': served,
              'served_ratio': round(served / connections, 5), 'engine_running': plugin.bridge.running,
              'seconds': round(time.perf_counter() - started, 1)}
    client.stop()
    plugin.close()
    return result


def case_slowloris(scale: float) -> Dict:
    count, seconds = 200, max(5.0, 60 * scale)
    events = Events()
    server = BridgeServer('127.0.0.1', 0, GRABBER, events)
    client = served_grabber(server.address[1])
    wait_for(lambda: server.in_control is not None, 10)
    attackers = []
    for _ in range(count):
        try:
            attackers.append(socket.create_connection(server.address[:2], timeout=5))
        except OSError:
            pass
    hello = b'\x00\x00\x00\x07GRABBER'
    served = asked = 0
    started = time.monotonic()
    second = 0
    while time.monotonic() - started < seconds:
        for sock in attackers:
            try:
                sock.send(hello[second % len(hello):second % len(hello) + 1])
            except OSError:
                pass
        second += 1
        tick = time.monotonic()
        while time.monotonic() - tick < 1.0:
            asked += 1
            served += int(grab(server, events, 2.0))
    fresh_started = time.monotonic()
    after = len(events.items)
    fresh = served_grabber(server.address[1])
    accepted = events.wait(lambda e: isinstance(e, ClientConnected), 5.0, after)
    result = {'attackers': count, 'seconds': seconds, 'controller_served': served, 'asked': asked,
              'served_ratio': round(served / max(asked, 1), 5), 'fresh_client_accepted': accepted,
              'fresh_client_accept_s': round(time.monotonic() - fresh_started, 3),
              'engine_deaths': events.count(EngineStopped)}
    for sock in attackers:
        sock.close()
    fresh.stop()
    client.stop()
    server.close()
    return result


def case_silence(scale: float) -> Dict:
    events = Events()
    server = BridgeServer('127.0.0.1', 0, GRABBER, events)
    silent = [socket.create_connection(server.address[:2], timeout=5) for _ in range(8)]
    for sock in silent:
        sock.sendall(b'\x00\x00\x00\x07GRABBER')
    wait_for(lambda: len([c for c in server.clients if c.client_type]) == 8, 10)
    started = time.monotonic()
    fresh = served_grabber(server.address[1])
    accepted = events.wait(lambda e: isinstance(e, ClientConnected) and not e.client.in_control, 5.0)
    accepted_s = time.monotonic() - started
    attempts = 0
    while attempts < 10 and not (server.in_control and server.in_control.peer != _peer(silent[0])
                                 and grab(server, events, 0.5)):
        attempts += 1
        grab(server, events, 0.5)
    result = {'silent_clients': 8, 'fresh_client_accepted': accepted, 'accepted_s': round(accepted_s, 3),
              'in_control_after_s': round(time.monotonic() - started, 3),
              'control_changes': events.count(ControlChanged), 'served_after': grab(server, events)}
    for sock in silent:
        sock.close()
    fresh.stop()
    server.close()
    return result


def _peer(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f'{host}:{port}'


def case_claim(scale: float) -> Dict:
    events = Events()
    budget = 256 << 20
    server = BridgeServer('127.0.0.1', 0, GRABBER, events, limits=Limits(max_payload_bytes=2 << 30),
                          budget_bytes=budget, max_queued_bytes=8 << 20)
    before = rss_mib()
    sock = socket.create_connection(server.address[:2], timeout=5)
    sock.sendall(b'\x00\x00\x00\x07GRABBER')
    wait_for(lambda: server.in_control is not None, 10)
    header = (b'\x00\x00\x00\x04Done\x00\x00\x00\x01\x00\x00\x00\x05array\x00\x00\x00\x03|u1'
              + (1 << 30).to_bytes(4, 'big') + b'\x00\x00\x00\x01' + (1 << 30).to_bytes(4, 'big'))
    sock.sendall(header)
    refused = events.wait(lambda e: isinstance(e, ClientLost) and 'budget' in e.reason, 5.0)
    sock.close()
    # within the budget: 200 MiB announced, then a trickle until the deadline drops it
    sock = socket.create_connection(server.address[:2], timeout=5)
    sock.sendall(b'\x00\x00\x00\x07GRABBER')
    wait_for(lambda: server.in_control is not None, 10)
    sock.sendall(header.replace((1 << 30).to_bytes(4, 'big'), (200 << 20).to_bytes(4, 'big')) + b'\x00' * 4096)
    peak = rss_mib()
    # a client that does not read, sent large set_info messages
    reader = socket.create_connection(server.address[:2], timeout=5)
    reader.sendall(b'\x00\x00\x00\x07GRABBER')
    from tcpbridge.wire import SetInfo
    xml = '<x type="str">' + 'a' * (1 << 20) + '</x>'
    offered = 0
    while offered < 1000 and server.send(SetInfo(('s', 'x'), xml)):
        offered += 1
    peak = max(peak, rss_mib())
    result = {'budget_mib': budget >> 20, '1GiB_claim_refused': refused, 'rss_before_mib': round(before),
              'rss_peak_mib': round(peak), 'non_reader_dropped_after_mib_offered': offered,
              'lost_events': [e.reason[:80] for e in events.items if isinstance(e, ClientLost)]}
    for s in (sock, reader):
        s.close()
    server.close()
    return result


def case_soak(scale: float) -> Dict:
    seconds = max(10.0, 600 * scale)
    values: List[int] = []  # the counter of each frame received (the frames themselves are dropped)
    grab_deaths: List[Event] = []

    def on_grab_event(event: Event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.message, Done):
            values.append(int(event.message.data[0][0]))
        elif isinstance(event, EngineStopped):
            grab_deaths.append(event)
    move_events = Events()
    grab_server = BridgeServer('127.0.0.1', 0, GRABBER, on_grab_event)
    move_server = BridgeServer('127.0.0.1', 0, ACTUATOR, move_events)
    counter = iter(range(10**12))
    pusher = GrabberClient('127.0.0.1', grab_server.address[1], grab=lambda dim: [np.zeros(1)])
    stage_position = [0.0]
    stage = ActuatorClient('127.0.0.1', move_server.address[1], get_position=lambda: stage_position[0],
                           move_abs=lambda target: stage_position.__setitem__(0, target) or target)
    pusher.start()
    stage.start()
    wait_for(lambda: grab_server.in_control is not None and move_server.in_control is not None, 10)
    wait_for(lambda: move_server.in_control.dialect is not None, 10)
    stop = threading.Event()

    def push() -> None:
        while not stop.is_set():
            try:
                pusher.push([np.array([float(next(counter))]), np.zeros(1000)])
            except OSError:
                time.sleep(0.01)
    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    samples = []
    moves = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        after = len(move_events.items)
        target = float(moves % 1000)
        move_server.send(MoveAbs(target), expect=(MoveDone,), timeout=5)
        if move_events.wait(lambda e, target=target: isinstance(e, MessageReceived)
                            and isinstance(e.message, MoveDone) and e.message.value == target, 5.0, after):
            moves += 1
        if not samples or time.monotonic() - samples[-1][0] > seconds / 2 - 0.5:
            samples.append((time.monotonic(), rss_mib(), open_fds(), threading.active_count()))
        if len(move_events.items) > 100_000:  # keep the test's own memory flat
            move_events.keep_last(10)
    stop.set()
    thread.join(5)
    samples.append((time.monotonic(), rss_mib(), open_fds(), threading.active_count()))
    expected = set(range(values[0], values[-1] + 1)) if values else set()
    result = {'seconds': round(seconds), 'frames_received': len(values), 'moves_round_trips': moves,
              'lost': len(expected - set(values)), 'duplicated': len(values) - len(set(values)),
              'reordered': sum(1 for a, b in zip(values, values[1:]) if b < a),
              'rss_mib_start_mid_end': [round(s[1]) for s in samples],
              'fds_start_mid_end': [s[2] for s in samples], 'threads_start_mid_end': [s[3] for s in samples],
              'engine_deaths': len(grab_deaths) + move_events.count(EngineStopped)}
    pusher.stop()
    stage.stop()
    grab_server.close()
    move_server.close()
    return result


CASES = {'decoder': case_decoder, 'engine': case_engine, 'plugins': case_plugins, 'slowloris': case_slowloris,
         'silence': case_silence, 'claim': case_claim, 'soak': case_soak}

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('cases', nargs='*', metavar='case', help=f'some of {", ".join(CASES)} (default: all)')
    parser.add_argument('--scale', type=float, default=1.0, help='multiply counts and durations (e.g. 0.01)')
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f'unknown case(s) {", ".join(sorted(unknown))}: choose from {", ".join(CASES)}')
    report = {}
    for name in args.cases or CASES:
        print(f'{name}...', file=sys.stderr, flush=True)
        with open(os.devnull, 'w') as quiet, contextlib.redirect_stdout(quiet):  # PyMoDAQ's test prints
            report[name] = CASES[name](args.scale)
        print(json.dumps({name: report[name]}), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))
