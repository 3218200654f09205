"""Screenshots of ``tcpbridge scan --gui`` as a user meets it: the dashboard and DAQ_Scan at the start
(set up, saying what to do), in the middle of the scan, and at the end; then the verdict line the
session prints after Quit.  Offscreen Qt: run ``python docs/screenshots/make_scan_screenshots.py
[--out DIR]`` (PNGs beside this script by default); ``tests/plugins/test_screenshots.py`` runs it and
checks ``scan_states.json``: for each state, DAQ_Scan's title and status bar, the colour of its
*Prepare Viewers* LED, the size of its live plots, and at the end the verdict.

The virtual screen is 1920x1080 (the offscreen platform's is 800x600 unless told), so that the
windows are laid out as on a usual lab monitor.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).parent
SCREEN = {'screens': [{'name': 'lab monitor', 'x': 0, 'y': 0, 'width': 1920, 'height': 1080,
                       'logicalDpiX': 96, 'logicalDpiY': 96}]}
_config = Path(tempfile.mkdtemp(prefix='tcpbridge-screen-')) / 'screen.json'
_config.write_text(json.dumps(SCREEN))
os.environ['QT_QPA_PLATFORM'] = f'offscreen:configfile={_config}'
os.environ.setdefault('QT_LOGGING_RULES', 'qt.qpa.*=false')

from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-screenshots-')))

from pymodaq_gui.qt_utils import mkQApp  # noqa: E402
from qtpy.QtCore import QTimer  # noqa: E402
from qtpy.QtWidgets import QApplication, QLabel  # noqa: E402

from pymodaq_plugins_tcpbridge.apps.scan import Session  # noqa: E402
from pymodaq_plugins_tcpbridge.apps.scan_gui import run_interactive  # noqa: E402
from pymodaq_plugins_tcpbridge.apps.scan_options import Deadline, ScanOptions  # noqa: E402

#: the simulated user quits the dashboard by then whatever happened, s
USER_BOUND_S = 150


class ScanUser:
    """Does what a person in front of ``tcpbridge scan --gui`` does, taking a picture of both windows
    at the start, in the middle of the scan and at its end, then quits the dashboard."""

    def __init__(self, session: Session, out: Path) -> None:
        self.session, self.out = session, out
        self.states: Dict[str, dict] = {}
        self.points = 0
        self.done = False
        self.given_up = time.monotonic() + USER_BOUND_S
        self.timer = QTimer()
        self.timer.timeout.connect(self.act)
        self.timer.start(100)

    def shot(self, name: str) -> None:
        daq_scan, dashboard = self.session.daq_scan, self.session.dashboard
        plots = daq_scan.live_plot_dock
        for window, part in ((dashboard.mainwindow, 'dashboard'), (daq_scan.mainwindow, 'daq_scan'),
                             (plots.window(), 'live_plots')):
            window.grab().save(str(self.out / f'{name}-{part}.png'))
        led = daq_scan.settings.child('plot_options', 'prepare_viewers')
        self.states[name] = {
            'title': daq_scan.mainwindow.windowTitle(),
            'status_bar': [label.text() for label in daq_scan.mainwindow.statusBar().findChildren(QLabel)
                           if label.text()],
            'prepare_viewers_led': str(led.value()),
            'live_plots': {'visible': plots.isVisible(), 'width': plots.width(), 'height': plots.height()},
            'points': self.points}

    def act(self) -> None:
        daq_scan = self.session.daq_scan
        if daq_scan is None:
            return
        if not self.states and 'press Start' in daq_scan.mainwindow.windowTitle():
            self.shot('scan-1-start')
            daq_scan.scan_done_signal.connect(lambda: setattr(self, 'done', True))
            self.session.detector.grab_done_signal.connect(lambda dte: setattr(self, 'points', self.points + 1))
            daq_scan.start_scan()
        elif self.states and 'scan-2-middle' not in self.states and \
                self.points >= self.session.options.points // 2:
            self.shot('scan-2-middle')
        elif self.done and 'scan-3-end' not in self.states:
            self.shot('scan-3-end')
        elif self.done or time.monotonic() > self.given_up:
            self.timer.stop()
            self.session.dashboard.shared_ui.get_action('quit').trigger()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, default=HERE, help='folder of the PNG files and scan_states.json')
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = mkQApp('tcpbridge scan screenshots')
    work = Path(tempfile.mkdtemp(prefix='tcpbridge-scan-screenshots-'))
    options = ScanOptions(points=21, stop=10.0, out=work, gui=True, timeout=150, peak_at=5.0, dim='1D', speed=20.0)
    session = Session(options, Deadline(150), work)
    user = ScanUser(session, args.out)
    printed = io.StringIO()
    try:
        session.load()
        session.init_modules()
        session.start_clients()
        session.wait_clients()
        with contextlib.redirect_stdout(printed):
            code = run_interactive(session, app)
    finally:
        user.timer.stop()
        session.close()
    lines = printed.getvalue().rstrip().splitlines()
    user.states['verdict'] = {'line': lines[-1] if lines else '', 'code': code}
    (args.out / 'scan_states.json').write_text(json.dumps(user.states, indent=2))
    print(printed.getvalue(), end='')
    print(json.dumps(user.states, indent=2))
    QApplication.processEvents()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
