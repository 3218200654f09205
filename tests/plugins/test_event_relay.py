"""EventRelay: engine events into the plugin's thread, in order, batched, never starving that thread."""
from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional

import pytest
from qtpy.QtCore import QObject, QThread, Signal
from qtpy.QtWidgets import QApplication

from pymodaq_plugins_tcpbridge.event_relay import MAX_EVENTS_PER_TURN, EventRelay


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, 'condition not met in time'
        QApplication.processEvents()
        time.sleep(0.001)


class Host(QObject):
    """A relay made in a QThread of its own (as in a DAQ_Viewer's hardware thread), recording what
    it is handed and in which thread."""

    make = Signal()
    other_work = Signal()

    def __init__(self, handle_seconds: float = 0.0) -> None:
        super().__init__()
        self.handle_seconds = handle_seconds
        self.relay: Optional[EventRelay] = None
        self.events: List[object] = []
        self.threads: set = set()
        self.between: List[int] = []  # events handled when other work of that thread ran
        self.thread = QThread()
        self.moveToThread(self.thread)
        self.make.connect(self._make)
        self.other_work.connect(lambda: self.between.append(len(self.events)))
        self.thread.start()

    def _make(self) -> None:
        self.relay = EventRelay(self._handle)

    def _handle(self, event: object) -> None:
        self.threads.add(threading.get_ident())
        if self.handle_seconds:
            time.sleep(self.handle_seconds)
        self.events.append(event)

    def stop(self) -> None:
        self.thread.quit()
        assert self.thread.wait(10_000)


@pytest.fixture
def host(qapp):
    made = Host()
    made.make.emit()
    wait_for(lambda: made.relay is not None)
    yield made
    made.stop()


def test_events_posted_from_several_threads_arrive_in_order_in_the_relay_thread(host: Host) -> None:
    def poster(name: str) -> None:
        for i in range(500):
            host.relay.post((name, i))
    threads = [threading.Thread(target=poster, args=(name,)) for name in 'abc']
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    wait_for(lambda: len(host.events) == 1500)
    for name in 'abc':
        assert [i for who, i in host.events if who == name] == list(range(500))
    assert len(host.threads) == 1 and threading.get_ident() not in host.threads


def test_a_flood_leaves_room_for_the_thread_s_other_work(qapp) -> None:
    slow = Host(handle_seconds=0.0005)
    slow.make.emit()
    wait_for(lambda: slow.relay is not None)
    try:
        for i in range(4 * MAX_EVENTS_PER_TURN):
            slow.relay.post(i)
        slow.other_work.emit()  # queued behind the first wake-up, ahead of the later batches
        wait_for(lambda: len(slow.events) == 4 * MAX_EVENTS_PER_TURN)
        assert slow.events == list(range(4 * MAX_EVENTS_PER_TURN))
        assert slow.between and slow.between[0] < 4 * MAX_EVENTS_PER_TURN  # it ran mid-flood
    finally:
        slow.stop()


def test_after_close_nothing_more_is_handed_over(host: Host) -> None:
    host.relay.post('before')
    wait_for(lambda: host.events == ['before'])
    relay, host.relay = host.relay, None
    relay.close()
    relay.post('after')
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # a bounded look: nothing may come
        QApplication.processEvents()
        time.sleep(0.01)
    assert host.events == ['before']
