"""The ``tcpbridge`` command: demo instruments (``grabber``, ``actuator``) and the bridge scan.

``tcpbridge grabber --host 127.0.0.1 --port 6341 --dim 1D`` serves a simulated detector,
``tcpbridge actuator --port 6342 --units mm`` a simulated stage, ``tcpbridge scan`` runs a
PyMoDAQ DAQ_Scan through the TCPServer plugins (needs the ``[pymodaq]`` extra).
Both clients wait for the server, reconnect, and stop cleanly on Ctrl+C / SIGTERM.
"""
from __future__ import annotations

import argparse
import atexit
import importlib.util
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import List, Optional

from . import __version__, transcript
from .demo import SimulatedDetector, SimulatedStage, parse_shape
from .dialects import Dialect, DwaLayout
from .pymodaq_home import redirect_pymodaq_config

log = logging.getLogger('tcpbridge')
PYMODAQ_INSTALL = 'pip install "pymodaq_plugins_tcpbridge[pymodaq]"'
LAYOUTS = {'4.4': DwaLayout.V4_4, '4.2': DwaLayout.V4_2, '4.1.3': DwaLayout.V4_1_3, '4.1.0': DwaLayout.V4_1_0}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--host', default='127.0.0.1', help='address of the PC running PyMoDAQ (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=6341, help='port of the TCPServer plugin (default 6341)')
    parser.add_argument('--dialect', choices=[d.value for d in Dialect], default='legacy',
                        help='legacy: arrays/scalars (any server); pymodaq4: DataToExport with axes/units')
    parser.add_argument('--layout', choices=list(LAYOUTS), default='4.4',
                        help='pymodaq4 dialect: layout of the PyMoDAQ version of the server (4.2 for 4.2-4.3)')
    parser.add_argument('--once', action='store_true', help='do not reconnect after the connection ends')
    parser.add_argument('--max-attempts', type=int, default=None,
                        help='give up after this many failed connection attempts (default: never)')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='tcpbridge', description=__doc__.split('\n\n')[0])
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    commands = parser.add_subparsers(dest='command', required=True)

    grabber = commands.add_parser('grabber', help='serve a simulated detector (GRABBER client)')
    _common(grabber)
    grabber.add_argument('--dim', choices=['0D', '1D', '2D', 'ND'], default='1D')
    grabber.add_argument('--shape', type=parse_shape, help='data shape, e.g. 2048x2048')
    grabber.add_argument('--dtype', default='float64', help='numpy dtype, e.g. uint16 (default float64)')
    grabber.add_argument('--pattern', action='store_true', help='deterministic counter pattern, no noise')
    grabber.add_argument('--push-rate', type=float, default=0.0, metavar='HZ',
                         help='also push data unsolicited at this rate (streaming)')
    grabber.add_argument('--peak-at', type=float, default=5.0, help='stage position of the signal peak')
    grabber.add_argument('--peak-width', type=float, default=1.5, help='width of the peak (stage units)')
    grabber.add_argument('--seed', type=int, default=None, help='random seed of the noise')
    grabber.add_argument('--noise', type=float, default=None, help='noise rms (default 0.01, 0 with --pattern)')
    grabber.add_argument('--position-file', action='append', default=[], dest='position_files',
                         help='file where a demo stage writes its position (repeat for each scanned '
                              'axis): the signal peaks when every stage is at --peak-at')

    actuator = commands.add_parser('actuator', help='serve a simulated stage (ACTUATOR client)')
    _common(actuator)
    actuator.add_argument('--units', default='mm', help='axis units (default mm)')
    actuator.add_argument('--speed', type=float, default=10.0, help='units per second; 0: instantaneous')
    actuator.add_argument('--position', type=float, default=0.0, help='initial position')
    actuator.add_argument('--position-file', help='file where the stage writes its position (read by '
                          'the demo detector)')

    replay = commands.add_parser(
        'replay', help='play a session transcript as a client and compare what the server answers',
        description='Play a transcript (examples/labview/transcripts/*.txt, or one you wrote) against a '
                    'TCPServer plugin: ">" lines are sent, "<" lines are awaited and compared byte for byte.')
    replay.add_argument('file', help='the transcript')
    replay.add_argument('--host', default='127.0.0.1', help='address of the PC running PyMoDAQ')
    replay.add_argument('--port', type=int, default=6341, help='port of the TCPServer plugin')
    replay.add_argument('--timeout', type=float, default=60.0,
                        help='seconds to wait for each answer of the server (a grab or a move may need you)')

    scan = commands.add_parser(
        'scan', help='DAQ_Scan of remote instruments through the TCPServer plugins (needs PyMoDAQ 5)',
        description='Run a PyMoDAQ DAQ_Scan of a remote actuator and a remote detector through the '
                    'TCPServer plugins, headless, and check the HDF5 file it saves. By default demo '
                    'clients are started on free loopback ports; with --actuator-port/--detector-port '
                    'the plugins wait for real remote clients.')
    scan.add_argument('--points', type=int, default=11, help='points per scanned axis (default 11)')
    scan.add_argument('--start', type=float, default=0.0, help='first position (mm, default 0)')
    scan.add_argument('--stop', type=float, default=10.0, help='last position (mm, default 10)')
    scan.add_argument('--scan', choices=['1D', '2D'], default='1D', help='1D: one stage; 2D: two stages')
    scan.add_argument('--dim', choices=['0D', '1D', '2D'], default='0D', help='detector dimensionality')
    scan.add_argument('--dialect', choices=[d.value for d in Dialect], default='legacy',
                      help='dialect of the demo clients')
    scan.add_argument('--host', default='127.0.0.1',
                      help='address the plugins listen on when waiting for remote clients')
    scan.add_argument('--actuator-port', type=int, action='append', default=[], dest='actuator_ports',
                      help='wait for a remote actuator on this port (twice for --scan 2D)')
    scan.add_argument('--detector-port', type=int, help='wait for a remote detector on this port')
    scan.add_argument('--out', default='tcpbridge-scan', help='folder of the HDF5 file (default ./tcpbridge-scan)')
    scan.add_argument('--plot', help='also render the scanned signal to this PNG file')
    scan.add_argument('--gui', action='store_true', help='open the dashboard with the experiment instead')
    scan.add_argument('--timeout', type=float, default=300.0, help='give up after this many seconds')
    scan.add_argument('--speed', type=float, default=0.0, help='demo stage speed, mm/s (0: instantaneous)')
    scan.add_argument('--peak-at', type=float, default=5.0, help='demo detector peak position (mm)')
    scan.add_argument('--noise', type=float, default=0.01, help='demo detector noise rms')
    return parser


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def _run_client(client: object) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        client.run()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        log.info('stopped')
    except ConnectionError as error:
        log.error('%s', error)
        return 1
    return 0


def _scan_log_filter(record: logging.LogRecord) -> bool:
    """Errors from anyone; warnings from the bridge and its plugins only.  Left out: the error PyMoDAQ
    5.3 logs at the end of every scan, its own plugins included (DAQScan.set_ini_positions
    disconnects the actuators twice): harmless, and alarming in a terminal."""
    if record.name == 'pymodaq.modules_manager' and record.getMessage().startswith('disconnect() failed'):
        return False
    ours = record.name.startswith('tcpbridge') or record.name in ('pymodaq.bridge', 'pymodaq.viewer',
                                                                   'pymodaq.actuator')
    return record.levelno >= logging.ERROR or (ours and record.levelno >= logging.WARNING)


def _scan(args: argparse.Namespace) -> int:
    missing = [name for name in ('pymodaq', 'qtpy', 'pymodaq_plugins_tcpbridge')
               if importlib.util.find_spec(name) is None]
    if missing:
        log.error('tcpbridge scan needs PyMoDAQ 5 and the TCPServer plugins (%s not found); install them '
                  'with: %s', ', '.join(missing), PYMODAQ_INSTALL)
        return 2
    if not args.gui:
        os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
        # offscreen windows cannot be sized or raised: Qt says so for each one
        os.environ.setdefault('QT_LOGGING_RULES', 'qt.qpa.*=false;default.warning=false')
    workdir = Path(tempfile.mkdtemp(prefix='tcpbridge-scan-'))
    # registered before PyMoDAQ registers its own atexit config saves, so it runs after them
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    # PyMoDAQ writes its config, logs and default data folder there: nothing outside --out
    redirect_pymodaq_config(workdir / 'pymodaq', save_path=workdir / 'data')
    from pymodaq_plugins_tcpbridge.scan import ScanOptions, run
    options = ScanOptions(
        points=args.points, start=args.start, stop=args.stop, scan=args.scan, dim=args.dim,
        dialect=args.dialect, host=args.host, actuator_ports=args.actuator_ports,
        detector_port=args.detector_port, out=Path(args.out), plot=Path(args.plot) if args.plot else None,
        gui=args.gui, timeout=args.timeout, speed=args.speed, peak_at=args.peak_at, noise=args.noise)
    return run(options, workdir)


def _replay(args: argparse.Namespace) -> int:
    try:
        steps = transcript.parse(Path(args.file).read_text(encoding='utf-8'))
    except (OSError, ValueError) as error:
        log.error('cannot read %s: %s', args.file, error)
        return 2
    try:
        return transcript.replay(steps, args.host, args.port, args.timeout)
    except OSError as error:
        log.error('cannot connect to %s:%s: %s', args.host, args.port, error)
        return 2


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``tcpbridge`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(asctime)s tcpbridge %(levelname)s: %(message)s', datefmt='%H:%M:%S',
                        stream=sys.stderr)
    if args.command == 'scan':
        if not args.verbose:  # PyMoDAQ logs its start-up at length: keep the terminal for the scan
            for handler in logging.getLogger().handlers:
                handler.addFilter(_scan_log_filter)
        return _scan(args)
    if args.command == 'replay':
        return _replay(args)
    common = dict(host=args.host, port=args.port, dialect=args.dialect, layout=LAYOUTS[args.layout],
                  reconnect=not args.once, max_attempts=args.max_attempts)
    if args.command == 'grabber':
        client = SimulatedDetector(dim=args.dim, shape=args.shape, dtype=args.dtype, pattern=args.pattern,
                                   push_rate=args.push_rate, peak_at=args.peak_at, peak_width=args.peak_width,
                                   seed=args.seed, position_files=args.position_files, **common)
        if args.noise is not None:
            client.set_setting(['noise'], args.noise)
        log.info('simulated %s detector %s %s for %s', args.dim, 'x'.join(map(str, client.shape)),
                 client.dtype, client.address)
    else:
        client = SimulatedStage(units=args.units, speed=args.speed, position=args.position,
                                position_file=args.position_file, **common)
        log.info('simulated stage in %s at %s/s for %s', args.units, args.speed, client.address)
    return _run_client(client)


if __name__ == '__main__':
    sys.exit(main())
