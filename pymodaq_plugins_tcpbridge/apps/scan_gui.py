"""``tcpbridge scan --gui`` (imported by :func:`.scan.run` when asked for): the dashboard and
DAQ_Scan open, set up for the scan, with what to do next said in DAQ_Scan's own window; each scan the
user runs is recorded (what the detector plugin emitted during it), and once the user quits the
dashboard every scan in the file is checked against its record, ending on the same PASSED / FAILED
line as a headless run.  PyMoDAQ's windows have no close button: the dashboard's *Quit* ends the
session (it closes DAQ_Scan too).  A scan whose settings were changed in DAQ_Scan is checked against the
options given, so it fails: the checks are for the scan this command set up."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

from pymodaq_data.data import DataDim
from pymodaq_gui.utils.widgets import LedState
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from .scan import Session, pause_line, saved_scans
from .scan_check import check_file
from .scan_options import ScanError, say

#: the command DAQ_Scan sends its acquisition when a scan starts (pymodaq.extensions.scan.daq_scan)
START_ACQUISITION = 'start_acquisition'


@dataclass
class RecordedScan:
    """One scan DAQ_Scan ran: the detector plugin's data sets in order, its start (``time.perf_counter``,
    s) and its duration in seconds once done."""
    started: float
    received: list = field(default_factory=list)
    seconds: float = 0.0


class ScanRecorder:
    """What the detector plugin emitted during each scan DAQ_Scan runs (live grabs and probes
    between scans left out): ``scans[k]`` is the record of ``/RawData/Scan{k:03d}``."""

    def __init__(self, daq_scan: Any, detector: Any) -> None:
        self.scans: List[RecordedScan] = []
        self.running = False
        daq_scan.command_daq_signal.connect(self._on_command)
        daq_scan.scan_done_signal.connect(self._on_done)
        detector.grab_done_signal.connect(self._on_data)

    def _on_command(self, command: Any) -> None:
        if command.command == START_ACQUISITION:
            self.scans.append(RecordedScan(time.perf_counter()))
            self.running = True

    def _on_done(self) -> None:
        if self.running:
            self.scans[-1].seconds = time.perf_counter() - self.scans[-1].started
        self.running = False

    def _on_data(self, data: Any) -> None:
        if self.running:
            self.scans[-1].received.append(data)

    def point(self, total: int) -> str:
        """The point the running scan is at, ``'point 3/11'``."""
        done = len(self.scans[-1].received) if self.scans else 0
        return f'point {min(done + 1, total)}/{total}'


def show_pauses(session: Session, recorder: ScanRecorder, text: str) -> None:
    """A lost client pauses the scan (the plugins wait for it, then replay the request): say so in
    DAQ_Scan's status bar and in the terminal, and say when it resumed; ``text`` is the instruction
    shown the rest of the time."""
    daq_scan = session.daq_scan

    def on_status(module: Any, status: str) -> None:
        if not recorder.running:
            return
        line = pause_line(module, status, recorder.point(daq_scan.scanner.n_steps)).strip()
        if line.startswith('paused'):
            say(f'  {line}')
            daq_scan.status_manager.set_permanent_status(f'{line[0].upper()}{line[1:]}')
        elif line:
            say(f'  {line}')
            daq_scan.status_manager.set_permanent_status(f'{line[0].upper()}{line[1:]}. {text}')

    for module in session.actuators + [session.detector]:
        module.status_sig.connect(lambda status, m=module: on_status(m, status))


def prepare_live_plots(session: Session) -> None:
    """What the user would click before Start, done: DAQ_Scan plots live only the data selected in
    its *Plotting options*, which its *Probe detectors* button fills; then its *Prepare Viewers*
    button builds the live plots (PyMoDAQ 5.3.8 leaves that button's LED red even then: it is set
    green here, as it is true).  *Probe actuators* is left to the user: it moves the stages."""
    daq_scan = session.daq_scan
    manager = daq_scan.modules_manager
    manager.settings.child('probe_detectors').activate()
    dims = (DataDim.Data0D, DataDim.Data1D, DataDim.Data2D)
    session.deadline.wait(lambda: any(manager.get_probed_data_full_names(dim) for dim in dims),
                          'the detectors to be probed', 20)
    daq_scan.plot_from()
    prepare = daq_scan.settings.child('plot_options', 'prepare_viewers')
    prepare.activate()
    prepare.setValue(LedState.TRUE)
    free_aspect_ratio(daq_scan)
    # DAQ_Scan rebuilds its live plots before it tells its acquisition to start
    daq_scan.command_daq_signal.connect(
        lambda command: free_aspect_ratio(daq_scan) if command.command == START_ACQUISITION else None)


def free_aspect_ratio(daq_scan: Any) -> None:
    """The 2D live plots of a scan map different quantities on their axes (a stage's mm against a
    detector's pixels): PyMoDAQ's Viewer2D locks their aspect ratio by default, which drew a 1D
    detector's map as a strip a few pixels wide.  Unlock it (the *Aspect Ratio* button, as a user
    would); DAQ_Scan rebuilds its live plots at each start, so call this once it has."""
    for viewer in daq_scan.live_plotter.viewers:
        view = getattr(viewer, 'view', None)
        if view is not None and view.has_action('aspect_ratio') and view.is_action_checked('aspect_ratio'):
            view.get_action('aspect_ratio').trigger()


def arrange_windows(session: Session) -> Any:
    """Lay the windows out on the screen (PyMoDAQ opens them at one place): the dashboard on the top
    of the left half, DAQ_Scan's *Live Plots* in a window of their own below it (docked in DAQ_Scan
    they got a third of its width: a 2D map was a strip), DAQ_Scan on the right half.  Returns the
    live plots' window."""
    daq_scan = session.daq_scan
    daq_scan.live_plot_dock.float()
    live_plots = daq_scan.live_plot_dock.window()
    live_plots.setWindowTitle('DAQ_Scan - Live Plots')
    # quitting the dashboard closes its windows and so ends the session; this one is ours to close
    live_plots.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)
    screen = QApplication.primaryScreen()
    if screen is None:
        return live_plots
    area = screen.availableGeometry()
    half, top = area.width() // 2, area.height() * 2 // 5
    for window, (x, y, width, height) in (
            (session.dashboard.mainwindow, (area.x(), area.y(), half, top)),
            (live_plots, (area.x(), area.y() + top, half, area.height() - top)),
            (daq_scan.mainwindow, (area.x() + half, area.y(), area.width() - half, area.height()))):
        window.showNormal()
        window.setGeometry(x, y, width, height)
    return live_plots


def instruction(session: Session) -> str:
    """What to do next, said in DAQ_Scan's window title and status bar."""
    options = session.options
    stages = 'one stage' if options.scan == '1D' else 'two stages'
    return (f'tcpbridge scan: press Start to scan {options.points} points per axis ({stages}, {options.start:g} to '
            f'{options.stop:g} mm); then Quit the dashboard to check the file')


def run_interactive(session: Session, app: QApplication) -> int:
    """Open the set-up session for the user, wait until the dashboard is quit, then check the file
    (see the module's docstring); returns the exit code (0: every complete scan checked; 1: one did
    not pass)."""
    path = session.prepare_scan()
    prepare_live_plots(session)
    recorder = ScanRecorder(session.daq_scan, session.detector)
    live_plots = arrange_windows(session)
    text = instruction(session)
    session.daq_scan.mainwindow.setWindowTitle(f'DAQ_Scan - {text}')
    session.daq_scan.status_manager.set_permanent_status(text)
    show_pauses(session, recorder, text)
    daq_scan = session.daq_scan
    daq_scan.scan_done_signal.connect(lambda: daq_scan.status_manager.set_permanent_status(
        f'Scan{len(recorder.scans) - 1:03d} done: {len(recorder.scans[-1].received)} points saved. Press Start '
        'for another scan, or Quit the dashboard to check the file'))
    say('dashboard (top left), live plots (bottom left) and DAQ_Scan (right) open, set up for this scan: press '
        "DAQ_Scan's Start button; to end, press the dashboard's red Quit button (or File > Quit): the file is "
        'checked then')
    app.exec()
    live_plots.close()
    return verdict(session, path, recorder.scans)


def verdict(session: Session, path: Path, scans: List[RecordedScan]) -> int:
    """Check each scan of ``path`` against its record; say one line per scan and the verdict."""
    if not path.exists() or not scans:
        say(saved_scans(path))
        return 0
    total = session.daq_scan.scanner.n_steps
    checked, failures = 0, []
    for index, scan in enumerate(scans):
        name = f'Scan{index:03d}'
        if len(scan.received) < total:
            say(f'{name}: stopped after {len(scan.received)} of {total} points: not checked')
            continue
        try:
            result = check_file(path, session, scan.received, scan.seconds, index)
        except ScanError as error:
            failures.append(f'{name}: {error}')
            say(f'{name}: FAILED: {error}')
            continue
        checked += 1
        say(f'{name}: check OK: the {result.points} points, each equal to what the detector client sent, at the '
            f'scanned positions, {result.seconds_per_point * 1000:.1f} ms per point')
    if failures:
        say(f'FAILED: {len(failures)} of {checked + len(failures)} complete scan(s), data in {path}')
        return 1
    if not checked:
        say(f'no complete scan to check; data in {path}')
        return 0
    say(f'PASSED: {checked} scan(s) checked, data in {path}')
    return 0
