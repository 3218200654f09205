"""``tcpbridge scan``: a PyMoDAQ 5 DAQ_Scan over remote instruments, headless (or in the dashboard).

The dashboard experiment ``resources/experiments/tcpbridge_remote.xml`` (one DAQ_Move_TCPServer,
one DAQ_xDViewer_TCPServer) is loaded into a Dashboard without a window; the plugins listen on free
loopback ports (or the given ones) and demo clients are started as separate processes (unless
real remote clients are awaited); DAQ_Scan runs and saves its HDF5 file into ``--out``; the file is
then checked against the data the detector plugin actually received.

Run through the ``tcpbridge scan`` command, which points PyMoDAQ's config folders at a temporary
folder before importing this module.  The options are in :mod:`.scan_options`, the checks of the
file in :mod:`.scan_check`, the plot in :mod:`.scan_plot`.
"""
from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from pymodaq_gui.parameter import Parameter, ioxml
from pymodaq_gui.qt_utils import mkQApp
from qtpy.QtWidgets import QApplication

from tcpbridge.commands import ClientProcess

from .qt_loop import EXIT_INTERRUPTED, INTERRUPTED, handle_interrupts
from .scan_check import check_demo_peak, check_file, fit_demo_peak, mark_partial, summary
from .scan_options import Deadline, ScanError, ScanOptions, say
from .scan_plot import plot

EXPERIMENT = Path(__file__).parent.parent / 'resources' / 'experiments' / 'tcpbridge_remote.xml'
STAGE_NAMES = ('Stage', 'Stage2')
#: what the plugins' status says when their client let a request time out (the scan stops at once)
NO_ANSWER = ('no move_done from the client within', 'no data from the client within')
#: seconds PyMoDAQ's scan timeouts exceed the reconnect wait (the plugins report first)
SCAN_TIMEOUT_MARGIN_S = 20.0
DETECTOR_NAME = 'Detector'



# -- experiment and modules ----------------------------------------------------------------------------

def write_experiment(options: ScanOptions, folder: Path) -> Path:
    """The shipped experiment, adapted: init off (ports are set first), detector dim, second stage."""
    from pymodaq.utils.managers.experiment.experiment_manager import ExperimentManager
    experiment = Parameter.create(title='Experiment', name='Preset', type='group',
                                  children=ExperimentManager.params)
    experiment.restoreState(Parameter.create(name='Preset', type='group',
                                             children=ioxml.XML_file_to_parameter(EXPERIMENT)).saveState())
    actuators = experiment.child('actuator')
    if options.scan == '2D':
        actuators.addNew(('TCPServer',))
        actuators.children()[-1]['name'] = STAGE_NAMES[1]
    detector = experiment.child('detector').children()[0]
    detector.child('info', 'dim').setValue(f'DAQ{options.dim}')
    for module in actuators.children() + experiment.child('detector').children():
        module.child('info', 'init').setValue(False)
    path = folder / f'tcpbridge_scan_{options.scan}_{options.dim}.xml'
    ioxml.parameter_to_xml_file(experiment, path, overwrite=True)
    return path


class Session:
    """The dashboard, its modules, the demo client processes and the scan of one run."""

    def __init__(self, options: ScanOptions, deadline: Deadline, workdir: Path) -> None:
        self.options = options
        self.deadline = deadline
        self.workdir = workdir
        self.client_of: Dict[str, ClientProcess] = {}  # module title -> the demo client serving it
        # PyMoDAQ's objects (it ships no type information): the dashboard, its modules, DAQ_Scan
        self.dashboard: Any = None
        self.actuators: list = []
        self.detector: Any = None
        self.daq_scan: Any = None
        self.received: list = []  # what the detector plugin emitted, in order
        self.failure = ''  # why the scan was stopped here (a module not back within the reconnect wait)

    # -- setup --------------------------------------------------------------------------------
    def load(self) -> None:
        """A dashboard (no window unless --gui) with the experiment, modules not initialised."""
        self.load_experiment(write_experiment(self.options, self.workdir))

    def load_experiment(self, path: Path) -> None:
        from pymodaq.dashboard import create_load_dashboard
        from pymodaq.utils.managers.modules.utils import ModuleType
        _, self.dashboard = create_load_dashboard(show_dashboard=self.options.gui)
        applied: list = []
        self.dashboard.experiment_manager.applied_entry.connect(applied.append)
        self.dashboard.experiment_manager.execute_entry(path)
        self.deadline.wait(lambda: applied, 'the dashboard experiment to load', 60)
        names = STAGE_NAMES[:2 if self.options.scan == '2D' else 1]
        manager = self.dashboard.modules_manager
        self.actuators = [manager.get_mod_from_name(n, mod=ModuleType.Actuator) for n in names]
        self.detector = manager.get_mod_from_name(DETECTOR_NAME, mod=ModuleType.Detector)

    def init_modules(self) -> None:
        """Set address and port of each plugin, then initialise it (it listens at once)."""
        from ..plugin_settings import LIMITS  # imports pymodaq: only once its config is redirected (scan_command)
        options = self.options
        ports = options.actuator_ports or [0] * len(self.actuators)
        if len(ports) != len(self.actuators):
            raise ScanError(f'a {options.scan} scan needs {len(self.actuators)} --actuator-port values')
        modules = list(zip(self.actuators, ports)) + [(self.detector, options.detector_port or 0)]
        done: dict = {}
        for module, port in modules:
            group = 'actuator_settings' if module in self.actuators else 'detector_settings'
            module.settings.child(group, 'socket_ip').setValue(options.host if not options.demo else '127.0.0.1')
            module.settings.child(group, 'port_id').setValue(port)
            module.settings.child(group, LIMITS, 'reconnect_wait').setValue(options.reconnect_wait)
            module.init_signal.connect(lambda ok, m=module: done.__setitem__(m.title, ok))
            module.init_hardware_ui(True)
        self.deadline.wait(lambda: len(done) == len(modules), 'the plugins to initialise', 60)
        failed = [name for name, ok in done.items() if not ok]
        if failed:
            raise ScanError(f'plugin initialisation failed for {", ".join(failed)} (see the messages above)')
        self.deadline.wait(lambda: all(self.port(m) for m, _ in modules), 'the listening ports', 10)
        for module, _ in modules:
            say(f'{module.title}: listening on {self.setting(module, "socket_ip")}:{self.port(module)}')

    @staticmethod
    def setting(module, name: str):
        group = 'actuator_settings' if 'DAQ_Move' in type(module).__name__ else 'detector_settings'
        return module.settings[group, name]

    def port(self, module) -> int:
        return int(self.setting(module, 'port_id'))

    def start_clients(self) -> None:
        """The instruments as separate processes: demo clients (sharing the stage positions by files),
        or PyMoDAQ's Mock plugins in ``tcpbridge module``."""
        if self.options.instruments == 'pymodaq-mock':
            self.start_hosted_mocks()
            return
        options = self.options
        position_files = []
        for index, stage in enumerate(self.actuators):
            position_file = self.workdir / f'position_{index}.txt'
            position_files += ['--position-file', str(position_file)]
            self.start_client(stage, ['actuator', '--port', str(self.port(stage)), '--dialect', options.dialect,
                                      '--units', 'mm', '--speed', str(options.speed), '--position-file',
                                      str(position_file)], f'actuator_{index}.log')
        self.start_client(self.detector, ['grabber', '--port', str(self.port(self.detector)), '--dim', options.dim,
                                          '--dialect', options.dialect, '--peak-at', str(options.peak_at),
                                          '--peak-width', str(options.peak_width), '--noise', str(options.noise),
                                          '--seed', '0', *position_files], 'grabber.log')

    def start_hosted_mocks(self) -> None:
        """PyMoDAQ on the instrument side too: ``tcpbridge module`` hosting the Mock stage (axis Y,
        epsilon 1e-4, fast time constant) and the Mock detector of the scan's dimensionality."""
        options = self.options

        def home(name: str) -> List[str]:  # one each: PyMoDAQ writes its config files as it starts, and a
            # process starting beside it on the same folder read one half-written (KeyError 'qtbackend', in CI)
            return ['--pymodaq-home', str(self.workdir / f'instrument-pymodaq-{name}'), '--dialect', options.dialect]

        for index, stage in enumerate(self.actuators):
            self.start_client(stage, ['module', 'move', 'Mock', '--axis', 'Y', '--set', 'tau=5', '--port',
                                      str(self.port(stage)), '--title', f'Mock stage {index}',
                                      *home(f'stage-{index}')], f'module_stage_{index}.log')
        self.start_client(self.detector, ['module', 'viewer', f'DAQ{options.dim}/Mock', '--port',
                                          str(self.port(self.detector)), *home('detector')], 'module_detector.log')

    def start_client(self, module, args: List[str], log_name: str) -> None:
        """``tcpbridge <args>`` in its own process for ``module``, its output to ``log_name`` in the
        work folder."""
        self.client_of[module.title] = ClientProcess(args, self.workdir / log_name)

    def wait_clients(self) -> None:
        """Until every plugin has its client, with the dialect known (actuators are probed), within
        the command's time bound; a demo client that exits ends the wait at once.  The ScanError says
        which module is not ready, why, and for a demo client its state and the end of its log."""
        modules = self.actuators + [self.detector]
        if not self.options.demo:
            say('waiting for the remote clients: ' + ', '.join(
                f'{m.title} on port {self.port(m)}' for m in modules))

        def client(module):
            # PyMoDAQ keeps the plugin's controller, our BridgeServer: ask it, not the display
            server = module.controller_and_thread.controller
            return server.in_control if server is not None else None

        def ready(module) -> bool:
            connected = client(module)
            # the clients table too: it is refreshed from the plugin's events, after the engine's state
            return connected is not None and (connected.dialect is not None or module is self.detector) and \
                bool(self.setting(module, 'conn_clients'))

        def why_not(module) -> str:
            state = 'no client connected' if client(module) is None else \
                'a client connected, its dialect not known yet (no answer to check_position)'
            process = self.client_of.get(module.title)
            described = f'; {process.describe()}' if process else ''
            return f'{module.title} (port {self.port(module)}): {state}{described}'

        def exited(module) -> bool:
            process = self.client_of.get(module.title)
            return process is not None and process.process.poll() is not None
        try:
            # hosted modules (tcpbridge module) import PyMoDAQ first: ~10 s, more on a loaded machine
            self.deadline.wait(lambda: all(ready(m) for m in modules) or any(exited(m) for m in modules),
                               'the clients to connect')
        except ScanError as error:
            raise ScanError('\n'.join([str(error), *(why_not(m) for m in modules if not ready(m))])) from None
        if any(exited(m) for m in modules):
            raise ScanError('\n'.join(['a demo client exited', *(why_not(m) for m in modules if exited(m))]))
        for module in modules:
            say(f'{module.title}: {", ".join(self.setting(module, "conn_clients").values())}')

    # -- scan -----------------------------------------------------------------------------------
    def prepare_scan(self) -> Path:
        """Load DAQ_Scan and set it up (modules, scan type and range, HDF5 file); returns the file."""
        from pymodaq.extensions import ExtensionEnum
        options = self.options
        # after the modules loaded: PyMoDAQ takes a DAQ_Move plugin's own move timeout from the same config
        scan_timeouts(options.reconnect_wait)
        daq_scan = self.dashboard.load_extension(ExtensionEnum.SCANNER)
        self.daq_scan = daq_scan
        daq_scan.override_popups(False)
        daq_scan.modules_manager.selected_actuators_name = [m.title for m in self.actuators]
        daq_scan.modules_manager.selected_detectors_name = [self.detector.title]
        QApplication.processEvents()
        step = (options.stop - options.start) / (options.points - 1)
        scanner = daq_scan.scanner
        if options.scan == '1D':
            scanner.set_scan_type_and_subtypes('Scan1D', 'Linear')
            settings = scanner.scanner.settings
            settings['start'], settings['stop'], settings['step'] = options.start, options.stop, step
        else:
            scanner.set_scan_type_and_subtypes('Scan2D', 'Linear')
            settings = scanner.scanner.settings
            for axis in ('axis1', 'axis2'):
                settings[axis, f'start_{axis}'], settings[axis, f'stop_{axis}'] = options.start, options.stop
                settings[axis, f'step_{axis}'] = step
        QApplication.processEvents()
        expected = options.points ** (2 if options.scan == '2D' else 1)
        if not options.gui:  # nobody sees the live plots of a headless scan: draw them once, at the end
            daq_scan.settings.child('plot_options', 'plot_every_n_steps').setValue(expected)
        if scanner.n_steps != expected:
            raise ScanError(f'the scanner made {scanner.n_steps} steps, expected {expected}')
        path = new_file_path(options)
        if path.exists():
            path.unlink()
        daq_scan.h5_manager.get_h5saver().init_file(update_h5=True, addhoc_file_path=path)
        return path

    def scan(self) -> Path:
        """Run DAQ_Scan; returns the HDF5 file once the saver has closed it.  A module whose client is
        lost pauses it (one line when it pauses, one when it resumes); one not back within the reconnect
        wait stops it (ScanError; the file keeps the points done, counted in its attributes)."""
        path = self.prepare_scan()
        daq_scan, expected = self.daq_scan, self.daq_scan.scanner.n_steps
        finished: list = []
        daq_scan.scan_acquisition.workers_terminated.connect(lambda *a: finished.append(True))
        self.detector.grab_done_signal.connect(self.received.append)
        for module in self.actuators + [self.detector]:
            module.status_sig.connect(lambda text, m=module: self.on_status(m, text, expected))
        self.scan_started = time.perf_counter()
        daq_scan.start_scan()
        self.progress(expected, lambda: finished)
        self.scan_seconds = time.perf_counter() - self.scan_started
        if self.failure:
            mark_partial(path, len(self.received), expected, self.failure)
            raise ScanError(f'{self.failure}; the {len(self.received)} points done are in {path}')
        if daq_scan.scan_acquisition.timeout_scan_flag:
            raise ScanError('PyMoDAQ stopped the scan on a timeout (a module did not answer)')
        return path

    def on_status(self, module, text: str, total: int) -> None:
        """A status line of ``module`` during the scan: say when a lost client pauses the scan and when it
        resumes; stop the scan if the client is not back within the reconnect wait."""
        point = f'point {min(len(self.received) + 1, total)}/{total}'
        pause = pause_line(module, text, point)
        if pause:
            say(pause)
        elif self.failure:
            return
        elif 'no client back within' in text:
            self.fail(f'{module.title} lost at {point} and not back within {self.options.reconnect_wait:g} s')
        elif any(timeout in text for timeout in NO_ANSWER):  # a client there that does not answer: no wait
            self.fail(f'{module.title} did not answer at {point}: {text}')

    def fail(self, failure: str) -> None:
        """Stop the scan for ``failure`` (said by :meth:`scan`), without going back to the start
        positions: DAQ_Scan would wait its whole actuator timeout for a stage that is gone."""
        self.failure = failure
        self.daq_scan.settings.child('scan_options', 'go_to_ini_positions').setValue(False)
        self.daq_scan.stop_scan()

    def progress(self, total: int, finished: Callable[[], list]) -> None:
        """Wait for the end of the scan, printing points done, rate and ETA (about 20 lines)."""
        shown = [-1]
        step = max(1, total // 20)

        def report() -> None:
            done = len(self.received)
            if done != shown[0] and (done % step == 0 or done == total):
                shown[0] = done
                elapsed = time.perf_counter() - self.scan_started
                rate = done / elapsed if elapsed > 0 else 0.0
                eta = f'{(total - done) / rate:5.1f} s' if rate > 0 else '    -'
                say(f'  {done:4d}/{total} points  {rate:6.1f} points/s  ETA {eta}')
        self.deadline.wait(finished, 'the end of the scan', every=report)

    def close(self) -> None:
        """Stop a running scan, close the dashboard, stop the demo clients (in this order: a scan
        must not go on asking clients that are gone, and PyMoDAQ refuses to quit while it runs)."""
        from pymodaq_gui.utils.app_worker import SaverWorker
        daq_scan = getattr(self, 'daq_scan', None)

        def busy() -> bool:  # DAQ_Scan refuses to quit then, with a modal message box nobody closes headless
            return daq_scan is not None and (daq_scan.scan_acquisition.is_running or
                                             daq_scan.settings[SaverWorker.worker_setting_name, 'worker_tasks'] > 0)
        if daq_scan is not None and daq_scan.scan_acquisition.is_running:
            say('stopping the scan')
            daq_scan.stop_scan()
            _process_events_until(lambda: not busy(), 15.0)
        if self.dashboard is not None and not busy():
            self.dashboard.quit_fun()
            QApplication.processEvents()
        for client in self.client_of.values():
            try:
                client.stop()
            except TimeoutError as error:
                say(f'warning: {error}')


def scan_timeouts(reconnect_wait: float) -> None:
    """PyMoDAQ's own scan timeouts (a move, a grab) above the reconnect wait, so that a scan waits for
    a lost client as long as the plugins do (PyMoDAQ 5.3 stops a scan only on its own timeouts: a
    plugin's timeout status does not reach DAQ_Scan)."""
    from pymodaq.utils.config import Config
    config = Config()
    seconds = reconnect_wait + SCAN_TIMEOUT_MARGIN_S
    config['actuator', 'polling_timeout_s'] = max(config('actuator', 'polling_timeout_s'), seconds)
    config['viewer', 'timeout'] = max(config('viewer', 'timeout'), int(seconds * 1000))


def pause_line(module, text: str, point: str) -> str:
    """The line that says a lost client paused the scan at ``point`` (``'point 3/11'``) or that it
    resumed, from a status ``text`` of ``module``; '' for any other status."""
    if 'waiting up to' in text:
        return f'  paused at {point}: {module.title}: {text}'
    if text.startswith('client back after'):
        return f'  resumed: {module.title}: {text}'
    return ''


def saved_scans(path: Path) -> str:
    """What a --gui session leaves in ``path`` (the file DAQ_Scan was set up to write)."""
    if not path.exists():
        return f'no scan was saved ({path} was not written)'
    import h5py
    with h5py.File(path, 'r') as h5:
        scans = list(h5['RawData']) if 'RawData' in h5 else []
    scans = [name for name in scans if name.startswith('Scan')]
    if not scans:
        path.unlink()  # only the header PyMoDAQ writes when it opens the file
        return f'no scan was run: nothing saved ({path.name} removed)'
    return f'{len(scans)} scan(s) saved in {path}: {", ".join(scans)}'


def new_file_path(options: ScanOptions) -> Path:
    """``tcpbridge_scan_<scan>_<dim>_<dialect>_<date-time>.h5`` in ``options.out``: each run writes a
    new file, earlier ones are kept (``-2``, ``-3``... if two runs start within one second)."""
    mock = '_pymodaq-mock' if options.demo and options.instruments == 'pymodaq-mock' else ''
    stem = (f'tcpbridge_scan_{options.scan}_{options.dim}_{options.dialect}{mock}_'
            f'{time.strftime("%Y%m%d-%H%M%S")}')
    path, number = options.out / f'{stem}.h5', 1
    while path.exists():
        number += 1
        path = options.out / f'{stem}-{number}.h5'
    return path.resolve()


def _process_events_until(condition: Callable[[], bool], seconds: float) -> None:
    """Qt events until ``condition()`` or ``seconds`` (used while closing, after an interruption)."""
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)



def run(options: ScanOptions, workdir: Path) -> int:
    """Run the whole session; returns the exit code (0: the file holds every point, checked)."""
    deadline = Deadline(options.timeout)
    watchdog = threading.Timer(options.timeout + 60, _abort, args=(options.timeout,))
    watchdog.daemon = True
    if not options.gui:  # an interactive session lasts as long as the user wants
        watchdog.start()
        # if the Qt thread is ever blocked past the time bound, say where before the watchdog aborts
        faulthandler.dump_traceback_later(options.timeout + 30, exit=False)
    app = mkQApp('tcpbridge scan')
    heartbeat = handle_interrupts()  # noqa: F841 (kept alive while the command runs)
    options.out.mkdir(parents=True, exist_ok=True)
    session = Session(options, deadline, workdir)
    try:
        session.load()
        session.init_modules()
        if options.demo:
            session.start_clients()
        session.wait_clients()
        if options.gui:
            from .scan_gui import run_interactive
            return run_interactive(session, app)
        path = session.scan()
        result = check_file(path, session, session.received, session.scan_seconds)
        say(summary(result))
        checks = 2
        say(f'check OK: the file holds the {result.points} points, each equal to what the detector client sent')
        say(f'check OK: the saved stage positions are the {options.points} scanned from {options.start:g} to '
            f'{options.stop:g} mm')
        fit = None
        if options.demo_signal:
            checks += 1
            say('check OK: ' + check_demo_peak(result, options, result.samples_per_point))
            fit = fit_demo_peak(result, options, result.samples_per_point)
        if options.plot:
            plot(result, options, options.plot, fit)
            say(f'plot: {options.plot}')
        say(f'PASSED: {checks} check(s), data in {result.path}')
        return 0
    except ScanError as error:
        if INTERRUPTED.is_set():  # Ctrl+C / SIGTERM: the shell's convention for an interrupted command
            say(f'stopped: {error}')
            return EXIT_INTERRUPTED
        say(f'FAILED: {error}')
        return 1
    finally:
        session.close()
        watchdog.cancel()
        faulthandler.cancel_dump_traceback_later()


def _abort(seconds: float) -> None:
    """Last resort of the time bound, if the Qt event loop itself is stuck."""
    print(f'tcpbridge scan: still running {seconds + 60:g} s after start, aborting', file=sys.stderr, flush=True)
    os._exit(3)
