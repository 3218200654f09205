"""A remote instrument that restarts costs a pause, not the move or the grab (reconnect.py).

Real plugins, real client processes (``tests/slow_client.py``) killed with SIGKILL mid-move or
mid-grab and replaced by new ones; every move_done and data set is checked against the request it
ends, and the status against what a user must read.
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from helpers import stop_process, wait_until
from plugin_helpers import VIEWERS, StatusLog, make_tcp_actuator, make_tcp_detector, wait_connected
from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer

SLOW_CLIENT = Path(__file__).parents[1] / 'slow_client.py'


class Client:
    """``tests/slow_client.py`` in its own process, its output in ``log``."""

    def __init__(self, tmp_path: Path, name: str, role: str, plugin, dialect: str = 'legacy',
                 delays: str = '0') -> None:
        self.log = tmp_path / f'{name}.log'
        with open(self.log, 'w') as output:
            self.process = subprocess.Popen(
                [sys.executable, str(SLOW_CLIENT), role, '--port', str(plugin.bridge.address[1]), '--dialect',
                 dialect, '--delays', delays], stdout=output, stderr=output)

    @property
    def text(self) -> str:
        return self.log.read_text()

    def kill(self) -> None:
        """SIGKILL: no Quit, no close: the plugin sees the connection reset."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            stop_process(self.process, 'tests/slow_client.py', self.log)


@contextlib.contextmanager
def clients() -> Iterator[List[Client]]:
    """A list the test appends its clients to; each is stopped at the end."""
    made: List[Client] = []
    try:
        yield made
    finally:
        for client in made:
            client.stop()


def recorded(signal_) -> List:
    values: List = []
    signal_.connect(values.append)
    return values


def wait_probed(plugin) -> None:
    """Until the plugin has the client's units and position (its answer to the dialect probe)."""
    wait_until(lambda: plugin.axis_unit == 'mm' and plugin.current_value.units == 'mm', 10, 'the probe answer',
               qt=True)


def stage(plugins: list, reconnect_wait: float) -> tuple:
    """A DAQ_Move_TCPServer (move timeout 30 s), its status log and the move_done values it emits."""
    plugin = make_tcp_actuator(DAQ_Move_TCPServer, port_id=0, timeout=30, reconnect_wait=reconnect_wait)
    plugins.append(plugin)
    return plugin, StatusLog(plugin), recorded(plugin.move_done_signal)


def kill_during_move(plugin, tmp_path: Path, made: List[Client], move: Callable[[], None], started: str) -> None:
    """A first client (moves of 30 s) takes control, gets ``move``, and is killed once the log shows
    ``started`` (it moves)."""
    made.append(Client(tmp_path, 'first', 'actuator', plugin, delays='30'))
    wait_connected(plugin)
    wait_probed(plugin)
    move()
    wait_until(lambda: started in made[0].text, 10, 'the first client to start moving')
    made[0].kill()


def raised_timeouts(status: StatusLog) -> int:
    return sum(c.command == 'raise_timeout' for c in status.commands)


def test_a_move_rel_whose_client_is_killed_is_sent_again_as_move_abs_to_the_next_client(plugins, tmp_path) -> None:
    """The first client (legacy) dies during move_rel +2.5 mm; a new one (pymodaq4, at 0) connects 1 s
    later: it gets move_abs 2.5 (never move_rel twice), and the move ends once, at 2.5."""
    plugin, status, done = stage(plugins, 20.0)
    with clients() as made:
        kill_during_move(plugin, tmp_path, made, lambda: plugin.move_rel(2.5), 'move 1 to 2.5:')
        lost = status.wait_for('lost during move_rel (to 2.5 mm) at ')
        assert 'waiting up to 20 s for a client' in lost
        made.append(Client(tmp_path, 'second', 'actuator', plugin, dialect='pymodaq4'))
        back = status.wait_for('client back after ')
        assert back.endswith('s; move_abs 2.5 mm sent again')
        wait_until(lambda: done, 15, 'the move to end', qt=True)
        assert 'move 1 to 2.5: 0 s' in made[1].text  # an absolute move to the target
    assert [d.value() for d in done] == [2.5] and raised_timeouts(status) == 0


def test_a_move_whose_client_does_not_come_back_fails_at_the_end_of_the_wait(plugins, tmp_path) -> None:
    plugin, status, done = stage(plugins, 1.0)
    with clients() as made:
        kill_during_move(plugin, tmp_path, made, lambda: plugin.move_abs(4.0), 'move 1 to 4:')
        status.wait_for('lost during move_abs 4 mm at ')
        failed = status.wait_for('no client back within 1 s')
        assert failed.endswith('move_abs 4 mm failed')
        wait_until(lambda: raised_timeouts(status) == 1, 5, "PyMoDAQ's timeout status", qt=True)
    assert done == []  # no move_done at a position that was not reached


def test_a_wait_of_zero_fails_the_move_at_once(plugins, tmp_path) -> None:
    plugin, status, done = stage(plugins, 0.0)
    with clients() as made:
        kill_during_move(plugin, tmp_path, made, lambda: plugin.move_abs(4.0), 'move 1 to 4:')
        status.wait_for('lost during move_abs 4 mm')
        wait_until(lambda: raised_timeouts(status) == 1, 5, "PyMoDAQ's timeout status", qt=True)
    assert not any('waiting up to' in text for text in status.texts)


def test_two_clients_racing_to_reconnect_get_the_move_once(plugins, tmp_path) -> None:
    plugin, status, done = stage(plugins, 20.0)
    with clients() as made:
        kill_during_move(plugin, tmp_path, made, lambda: plugin.move_abs(3.0), 'move 1 to 3:')
        status.wait_for('waiting up to 20 s for a client')
        made += [Client(tmp_path, name, 'actuator', plugin) for name in ('second', 'third')]
        wait_until(lambda: done, 15, 'the move to end', qt=True)
        wait_until(lambda: len(plugin.bridge.clients) == 2, 10, 'both new clients connected', qt=True)
        moved = [client for client in made[1:] if 'move 1 to 3' in client.text]
    assert [d.value() for d in done] == [3.0] and len(moved) == 1


def test_a_grab_whose_client_is_killed_is_asked_again_of_the_next_client(plugins, tmp_path) -> None:
    plugin = make_tcp_detector(VIEWERS['0D'], port_id=0, reply_timeout=30.0, reconnect_wait=20.0)
    plugins.append(plugin)
    status = StatusLog(plugin)
    data = recorded(plugin.dte_signal)
    with clients() as made:
        made.append(Client(tmp_path, 'first', 'grabber', plugin, delays='30'))
        wait_connected(plugin)
        plugin.grab_data()
        wait_until(lambda: 'grab 1:' in made[0].text, 10, 'the first client to start its grab')
        made[0].kill()
        status.wait_for("lost during a grab (Send Data 0D) at ")
        made.append(Client(tmp_path, 'second', 'grabber', plugin))
        assert status.wait_for('client back after ').endswith('s; Send Data 0D sent again')
        wait_until(lambda: data, 15, 'the data', qt=True)
    assert [d[0].data[0][0] for d in data] == [1.0]  # the second client's first grab: no data invented


def test_a_live_grab_stays_armed_while_its_client_is_gone_and_goes_on_with_the_next(plugins, tmp_path) -> None:
    plugin = make_tcp_detector(VIEWERS['0D'], port_id=0, reply_timeout=30.0)
    plugins.append(plugin)
    status = StatusLog(plugin)
    data = recorded(plugin.dte_signal)
    first_count: Optional[int] = None
    with clients() as made:
        made.append(Client(tmp_path, 'first', 'grabber', plugin, delays='0.01'))
        wait_connected(plugin)
        plugin.grab_data(live=True)
        wait_until(lambda: len(data) >= 5, 15, 'live data', qt=True)
        made[0].kill()
        status.wait_for('the live grab stays armed')
        first_count = len(data)
        made.append(Client(tmp_path, 'second', 'grabber', plugin, delays='0.01'))
        status.wait_for('back: the live grab goes on')
        wait_until(lambda: len(data) >= first_count + 5, 15, 'live data from the second client', qt=True)
        plugin.stop()
    assert [d[0].data[0][0] for d in data[first_count:first_count + 3]] == [1.0, 2.0, 3.0]
