"""Live grabs and pushed data (PyMoDAQ#284): a live grab (PyMoDAQ's Grab) emits every data set a client
pushes without asking it anything, and asks a client that only answers for the next data set as soon as
one arrives, until ``stop``; pushes while the module does not acquire are shown at most 25 times a
second, the newest last; ``Naverage`` is averaged by PyMoDAQ's own DAQ_Viewer."""
from __future__ import annotations

import itertools
import threading
import time
from typing import Iterator, List

import numpy as np
import pytest
from pymodaq.utils.plugin_testing import make_detector

from helpers import free_port, wait_until
from plugin_helpers import VIEWERS, wait_connected
from pymodaq_plugins_tcpbridge.plugin_settings import BACKLOG_MESSAGES
from pymodaq_plugins_tcpbridge.viewer import IDLE_PUSH_INTERVAL_S
from tcpbridge import GrabberClient
from tcpbridge.wire import SendData


class CountingClient(GrabberClient):
    """Answers ``Send Data`` with 1, 2, 3... (a 4-point line of that value) and counts the requests."""

    def __init__(self, port: int) -> None:
        self.requests = 0
        self._values = itertools.count(1)
        super().__init__(port=port, grab=lambda dim: [np.full(4, float(next(self._values)))])

    def handle(self, message) -> None:
        if isinstance(message, SendData):
            self.requests += 1
        super().handle(message)


@pytest.fixture
def bridge(plugins) -> Iterator[tuple]:
    """A 1D viewer plugin and a connected CountingClient (a thread of this process)."""
    plugin = make_detector(VIEWERS['1D'], port_id=0)
    plugins.append(plugin)
    client = CountingClient(plugin.bridge.address[1])
    thread = client.start()
    try:
        wait_connected(plugin)
        yield plugin, client
    finally:
        client.stop()
        thread.join(10)


def received_values(plugin) -> List[float]:
    values: List[float] = []
    plugin.dte_signal.connect(lambda dte: values.append(float(dte[0].data[0][0])))
    return values


def test_live_grab_emits_every_push_and_asks_a_pushing_client_nothing(bridge) -> None:
    plugin, client = bridge
    values = received_values(plugin)
    client.push([np.full(4, -1.0)])  # the plugin learns that this client streams
    wait_until(lambda: values == [-1.0], 10, 'the first push shown', qt=True)
    plugin.grab_data(live=True)
    for index in range(200):  # as fast as the link: none may be skipped or asked for
        client.push([np.full(4, float(index))])
    wait_until(lambda: len(values) == 201, 20, 'every pushed data set', qt=True)
    assert values[1:] == [float(i) for i in range(200)]
    assert client.requests == 0
    plugin.stop()


def test_live_grab_of_a_client_that_only_answers_streams_until_stop(bridge) -> None:
    plugin, client = bridge
    values = received_values(plugin)
    plugin.grab_data(live=True)
    wait_until(lambda: len(values) >= 50, 20, 'a stream of answers', qt=True)
    plugin.stop()
    # the client may not have read the request in flight yet: count the answers once none is owed
    wait_until(lambda: not plugin._requests, 10, 'the answer in flight at the stop', qt=True)
    asked = len(values)
    assert client.requests == asked
    plugin.grab_data()  # a snap after the live grab: one request, one data set
    wait_until(lambda: len(values) == asked + 1, 10, 'the snap', qt=True)
    assert client.requests == asked + 1
    assert values == [float(i) for i in range(1, asked + 2)]  # in order, none twice


def test_a_live_grab_after_a_stop_asks_at_once_the_answer_in_flight_being_no_push(bridge) -> None:
    """The answer to the request in flight at a stop is that answer, not a push: else the next live grab
    would wait for pushes from a client that only answers (the watchdog asks after 1-2 s)."""
    plugin, client = bridge
    values = received_values(plugin)
    for round_ in range(3):
        shown = len(values)
        plugin.grab_data(live=True)
        assert len(plugin._requests) == 1, f'round {round_}: not asked at once'
        wait_until(lambda shown=shown: len(values) >= shown + 10, 20, 'a stream of answers', qt=True)
        plugin.stop()
        # the client may not have read the request in flight yet: compare once none is owed
        wait_until(lambda: not plugin._requests, 10, 'the answer in flight at the stop', qt=True)
        assert len(values) == client.requests and not plugin._client_pushes()
    assert values == [float(i) for i in range(1, len(values) + 1)]  # every answer once, in order


def test_a_client_that_pushes_beside_answering_is_no_longer_asked_once_it_is_seen_pushing(bridge) -> None:
    """Pushes and answers look alike: taking every push for the answer and asking again would keep a
    client that does both answering ever more requests beside its pushes."""
    plugin, client = bridge
    values = received_values(plugin)
    plugin.grab_data(live=True)  # the plugin does not know yet that this client pushes: it asks
    wait_until(lambda: len(values) >= 5, 20, 'a stream of answers', qt=True)

    def pushes(first: int, count: int) -> List[float]:
        for index in range(first, first + count):  # negative: told apart from the answers (1, 2, 3...)
            client.push([np.full(4, -1.0 - index)])
        return [-1.0 - index for index in range(first + count)]
    expected = pushes(0, 300)
    wait_until(lambda: [v for v in values if v < 0] == expected, 20, 'every push', qt=True)
    asked = client.requests
    expected = pushes(300, 100)
    wait_until(lambda: [v for v in values if v < 0] == expected, 20, 'every push', qt=True)
    assert client.requests - asked <= 2  # asked once per push, it would be >= 100
    answers = [v for v in values if v > 0]
    assert answers == [float(i) for i in range(1, len(answers) + 1)]  # every answer, in order
    plugin.stop()


def test_pushes_while_not_acquiring_are_shown_at_most_25_times_a_second_newest_last(bridge) -> None:
    plugin, client = bridge
    values = received_values(plugin)
    started = time.monotonic()
    pusher = threading.Thread(target=lambda: [client.push([np.full(4, float(i))]) for i in range(2000)])
    pusher.start()
    wait_until(lambda: values and values[-1] == 1999.0, 30, 'the newest push shown', qt=True)
    elapsed = time.monotonic() - started
    pusher.join(10)
    assert len(values) <= elapsed / IDLE_PUSH_INTERVAL_S + 2, (len(values), elapsed)
    assert values == sorted(set(values))  # newest wins: increasing, nothing twice
    assert client.requests == 0


def test_data_held_downstream_pause_the_client_until_released_and_nothing_is_lost(bridge) -> None:
    """Back-pressure: a consumer that keeps every data set (a display far behind) stops the reading of
    the client at BACKLOG_MESSAGES data sets; TCP blocks the pusher; once they are dropped, the rest comes."""
    plugin, client = bridge
    values = received_values(plugin)
    client.push([np.full(4, -1.0)])  # the plugin learns that this client streams (it asks nothing)
    wait_until(lambda: values == [-1.0], 10, 'the first push shown', qt=True)
    values.clear()
    held: list = []
    plugin.dte_signal.connect(held.append)
    plugin.grab_data(live=True)
    count, pushed = 300, []

    def push() -> None:  # 160 kB per data set: the count bound is reached first
        for index in range(count):
            client.push([np.full(20_000, float(index))])
            pushed.append(index)
    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    wait_until(lambda: plugin.bridge.backlog[2], 20, 'reading paused for the backlog', qt=True)
    wait_until(lambda: len(pushed) < count and not pusher.join(0.5) and pusher.is_alive(), 20, 'the pusher blocked')
    plugin._refresh_clients()
    assert 'not yet taken by PyMoDAQ' in plugin.settings['conn_clients']['backlog']
    assert len(held) <= BACKLOG_MESSAGES + 2 and len(values) == len(held)
    plugin.dte_signal.disconnect(held.append)
    held.clear()  # the data are dropped: their holds end at once (frames are freed by reference counting)
    wait_until(lambda: len(values) == count, 60, 'every data set', qt=True)
    pusher.join(10)
    assert values == [float(i) for i in range(count)]
    plugin.stop()
    wait_until(lambda: plugin.bridge.backlog == (0, 0, False), 10, 'nothing held', qt=True)


def test_naverage_is_averaged_by_pymodaqs_daq_viewer(qapp) -> None:
    """The real DAQ_Viewer (headless): a snap with Naverage 3 asks three data sets and shows their mean."""
    from pymodaq.control_modules.daq_viewer import DAQ_Viewer
    port = free_port()
    viewer = DAQ_Viewer(None, title='average', daq_type='DAQ1D')
    viewer.detector = 'TCPServer'
    viewer.settings.child('detector_settings', 'port_id').setValue(port)
    initialised: list = []
    viewer.init_signal.connect(initialised.append)
    viewer.init_hardware(True)  # headless: init_hardware_ui needs the window
    client = CountingClient(port)
    thread = client.start()
    try:
        wait_until(lambda: initialised == [True], 30, 'the DAQ_Viewer initialised', qt=True)
        # the plugin's LED, not the client's side: a snap before the plugin saw the hello gets no data
        wait_until(lambda: viewer.settings['detector_settings', 'connected'], 30, 'the plugin to see the client',
                   qt=True)
        viewer.settings.child('main_settings', 'Naverage').setValue(3)
        done: list = []
        viewer.grab_done_signal.connect(done.append)
        viewer.snap()
        wait_until(lambda: done, 20, 'the averaged snap', qt=True)
        np.testing.assert_allclose(done[0][0].data[0], np.full(4, 2.0))  # mean of 1, 2, 3
        assert client.requests == 3
    finally:
        client.stop()
        thread.join(10)
        viewer.quit_fun()
