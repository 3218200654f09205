"""`tcpbridge scan --gui`: the real dashboard and DAQ_Scan (offscreen), with the demo clients; the test
does what the user does (press Start, Quit the dashboard when the scan is done) and reads what the
window says and what the session prints at the end."""
from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, List, Tuple

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QLabel

from helpers import qt_app
from pymodaq_plugins_tcpbridge.apps.scan import Session
from pymodaq_plugins_tcpbridge.apps.scan_gui import run_interactive
from pymodaq_plugins_tcpbridge.apps.scan_options import Deadline, ScanOptions
from tcpbridge.commands import ClientProcess

USER_BOUND_S = 120  # the simulated user quits the dashboard by then whatever happened


class User:
    """Presses Start once DAQ_Scan says what to do, then the dashboard's Quit when the scan is done
    (or at the bound): what a person does in front of ``tcpbridge scan --gui``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: List[str] = []  # DAQ_Scan's window title when the user read it
        self.done = False
        self.given_up = time.monotonic() + USER_BOUND_S
        self.timer = QTimer()
        self.timer.timeout.connect(self.act)
        self.timer.start(100)

    def act(self) -> None:
        daq_scan = self.session.daq_scan
        title = daq_scan.mainwindow.windowTitle() if daq_scan is not None else ''
        if not self.seen and 'press Start' in title:
            self.seen.append(title)
            daq_scan.scan_done_signal.connect(lambda: setattr(self, 'done', True))
            daq_scan.start_scan()
        elif self.done or time.monotonic() > self.given_up:
            self.timer.stop()
            self.session.dashboard.shared_ui.get_action('quit').trigger()


def run_gui_session(tmp_path: Path, options: ScanOptions, user_class: type) -> Tuple[Any, int]:
    """The session ``tcpbridge scan --gui`` runs, with ``user_class(session)`` in front of it; the user
    and the session's exit code."""
    app = qt_app()  # PyMoDAQ's (with its theme), as the command makes it
    (tmp_path / 'work').mkdir()
    session = Session(options, Deadline(120), tmp_path / 'work')
    user = user_class(session)
    try:
        session.load()
        session.init_modules()
        session.start_clients()
        session.wait_clients()
        code = run_interactive(session, app)
    finally:
        user.timer.stop()
        session.close()
    return user, code


def test_gui_session_says_what_to_do_and_checks_the_file_after_quit(tmp_path: Path, capsys) -> None:
    options = ScanOptions(points=6, stop=5.0, out=tmp_path, gui=True, timeout=120, peak_at=2.0, reconnect_wait=10.0)
    user, code = run_gui_session(tmp_path, options, User)
    out = capsys.readouterr().out
    assert user.seen and user.seen[0].startswith('DAQ_Scan - tcpbridge scan: press Start to scan 6 points'), user.seen
    assert user.done, out
    files = sorted(tmp_path.glob('tcpbridge_scan_1D_0D_legacy_*.h5'))
    assert len(files) == 1, files
    assert 'Scan000: check OK: the 6 points, each equal to what the detector client sent' in out, out
    assert out.rstrip().splitlines()[-1] == f'PASSED: 1 scan(s) checked, data in {files[0]}', out
    assert code == 0


class UserWhoseStageRestarts(User):
    """Presses Start, then, two points into the scan, the stage's client dies (SIGKILL) and a new one
    starts (the instrument PC's program restarted): what DAQ_Scan's status bar says is recorded."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.points = 0
        self.restarted = False
        self.status_texts: List[str] = []

    def act(self) -> None:
        daq_scan = self.session.daq_scan
        if self.seen and not self.restarted and self.points >= 2:
            self.restarted = True
            stage = self.session.actuators[0]
            old = self.session.client_of[stage.title]
            old.process.send_signal(signal.SIGKILL)
            old.process.wait(10)
            old.stop()
            self.session.client_of[stage.title] = ClientProcess(old.args, old.log_file.with_name('restarted.log'))
        if daq_scan is not None:
            texts = [label.text() for label in daq_scan.mainwindow.statusBar().findChildren(QLabel)]
            self.status_texts += [text for text in texts if text and text not in self.status_texts]
        if not self.seen and daq_scan is not None and 'press Start' in daq_scan.mainwindow.windowTitle():
            self.session.detector.grab_done_signal.connect(lambda dte: setattr(self, 'points', self.points + 1))
        super().act()


def test_gui_scan_shows_the_pause_of_a_restarted_stage_and_passes(tmp_path: Path, capsys) -> None:
    options = ScanOptions(points=8, stop=5.0, out=tmp_path, gui=True, timeout=120, peak_at=2.0, reconnect_wait=30.0,
                          speed=5.0)
    user, code = run_gui_session(tmp_path, options, UserWhoseStageRestarts)
    out = capsys.readouterr().out
    assert user.restarted and user.done, out
    paused = [text for text in user.status_texts if text.startswith('Paused at point')]
    resumed = [text for text in user.status_texts if text.startswith('Resumed: ')]
    assert paused and 'waiting up to 30 s' in paused[0], user.status_texts
    assert resumed and 'client back after' in resumed[0] and 'press Start' in resumed[0], user.status_texts
    assert '  paused at point ' in out and '  resumed: ' in out, out
    assert out.rstrip().splitlines()[-1].startswith('PASSED: 1 scan(s) checked'), out
    assert code == 0
