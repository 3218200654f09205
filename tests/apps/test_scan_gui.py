"""`tcpbridge scan --gui`: the real dashboard and DAQ_Scan (offscreen), with the demo clients; the test
does what the user does (press Start, Quit the dashboard when the scan is done) and reads what the
window says and what the session prints at the end."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List

from pymodaq_gui.qt_utils import mkQApp
from qtpy.QtCore import QTimer

from pymodaq_plugins_tcpbridge.apps.scan import Session
from pymodaq_plugins_tcpbridge.apps.scan_gui import run_interactive
from pymodaq_plugins_tcpbridge.apps.scan_options import Deadline, ScanOptions

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


def test_gui_session_says_what_to_do_and_checks_the_file_after_quit(tmp_path: Path, capsys) -> None:
    app = mkQApp('tests')  # PyMoDAQ's (with its theme), as the command makes it
    options = ScanOptions(points=6, stop=5.0, out=tmp_path, gui=True, timeout=120, peak_at=2.0, reconnect_wait=10.0)
    (tmp_path / 'work').mkdir()
    session = Session(options, Deadline(120), tmp_path / 'work')
    user = User(session)
    try:
        session.load()
        session.init_modules()
        session.start_clients()
        session.wait_clients()
        code = run_interactive(session, app)
    finally:
        user.timer.stop()
        session.close()
    out = capsys.readouterr().out
    assert user.seen and user.seen[0].startswith('DAQ_Scan - tcpbridge scan: press Start to scan 6 points'), user.seen
    assert user.done, out
    files = sorted(tmp_path.glob('tcpbridge_scan_1D_0D_legacy_*.h5'))
    assert len(files) == 1, files
    assert 'Scan000: check OK: the 6 points, each equal to what the detector client sent' in out, out
    assert out.rstrip().splitlines()[-1] == f'PASSED: 1 scan(s) checked, data in {files[0]}', out
    assert code == 0
