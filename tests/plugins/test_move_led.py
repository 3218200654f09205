"""DAQ_Move's "moving" LED (its toolbar, what a user sees with the settings panel closed) leaves
"moving" within 1 s when a move fails, without a ``move_done`` (a scan must not take the move for
done): PyMoDAQ 5.3's own standalone DAQ_Move window, offscreen, with the real plugin and a real
client process killed mid-move."""
from __future__ import annotations

import time
from typing import List, Tuple

from helpers import wait_until
from plugin_helpers import close_window, stage_window
from tcpbridge.commands import ClientProcess


def seen(status: List[Tuple[float, str]], text: str, what: str) -> float:
    """When a status containing ``text`` was shown (waiting up to 10 s for it)."""
    wait_until(lambda: any(text in shown for _, shown in status), 10, what, qt=True)
    return next(when for when, shown in status if text in shown)


def test_a_move_without_a_client_does_not_stay_moving() -> None:
    shared_ui, move = stage_window(reconnect_wait=0)
    done: list = []
    move.move_done_signal.connect(done.append)
    try:
        move.move_abs(3.0)
        asked = time.monotonic()
        wait_until(lambda: move.ui.move_done, 5, 'the LED to leave "moving"', qt=True)
        assert time.monotonic() - asked < 1.5
        assert not done  # no move_done: the target was not reached
        assert 'no client connected: move_abs not sent' in move.settings['actuator_settings', 'status']
    finally:
        close_window(shared_ui, move)


def test_a_stage_killed_mid_move_and_not_back_leaves_moving_within_a_second() -> None:
    shared_ui, move = stage_window(reconnect_wait=1.0)
    done: list = []
    move.move_done_signal.connect(done.append)
    status: List[Tuple[float, str]] = []  # every status shown, with when: a loaded GUI thread may apply several at once
    move.settings.child('actuator_settings', 'status').sigValueChanged.connect(
        lambda param, value: status.append((time.monotonic(), str(value))))
    port = str(move.controller_and_thread.controller.address[1])
    stage = ClientProcess(['actuator', '--port', port, '--units', 'mm', '--speed', '0.5'])
    try:
        wait_until(lambda: move.settings['actuator_settings', 'connected'], 20, 'the stage', qt=True)
        wait_until(lambda: move.controller_and_thread.controller.in_control.dialect is not None, 20,
                   'the dialect', qt=True)
        move.move_abs(50.0)  # 100 s at 0.5 mm/s
        wait_until(lambda: not move.ui.move_done, 5, 'the LED to show "moving"', qt=True)
        stage.process.kill()
        stage.process.wait(10)
        started = seen(status, 'waiting up to 1 s', 'the reconnect wait')
        failed = seen(status, 'failed', 'the wait to end')
        wait_until(lambda: move.ui.move_done, 5, 'the LED to leave "moving"', qt=True)
        assert time.monotonic() - failed < 1.0 and failed - started < 3.0
        assert not done
    finally:
        stage.stop()
        close_window(shared_ui, move)
