"""The ``tcpbridge scan`` command: its arguments, and the start-up that must precede any PyMoDAQ
import (headless Qt, PyMoDAQ's folders in a temporary folder, a quiet log).  Importing this module
loads no PyMoDAQ; :mod:`.scan` does the work."""
from __future__ import annotations

import argparse
import atexit
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from tcpbridge.argtypes import finite, listen_port, number, timeout_seconds, wait_seconds, whole
from tcpbridge.commands import Command

from .pymodaq_home import redirect_pymodaq_config
from .startup import prepare

log = logging.getLogger('tcpbridge')
#: status lines of the plugins that Session.on_status prints as the scan's pause and resume
PRINTED_BY_THE_SCAN = ('waiting up to', 'client back after', 'no client back within')


def add_arguments(scan: argparse.ArgumentParser) -> None:
    """The options of ``tcpbridge scan``."""
    scan.add_argument('--points', type=whole(2, 'the number of points'),
                      default=11, help='points per scanned axis (2 or more)')
    scan.add_argument('--start', type=finite, default=0.0, help='first position (mm)')
    scan.add_argument('--stop', type=finite, default=10.0, help='last position (mm)')
    scan.add_argument('--scan', choices=['1D', '2D'], default='1D', help='1D: one stage; 2D: two stages')
    scan.add_argument('--dim', choices=['0D', '1D', '2D'], default='0D', help='detector dimensionality')
    scan.add_argument('--dialect', choices=['legacy', 'pymodaq4'], default='legacy',
                      help='dialect of the demo clients')
    scan.add_argument('--instruments', choices=['demo', 'pymodaq-mock'], default='demo',
                      help="demo: tcpbridge's demo stage and detector; pymodaq-mock: PyMoDAQ's Mock plugins "
                           'hosted by tcpbridge module (PyMoDAQ on both sides)')
    scan.add_argument('--host', default='127.0.0.1',
                      help='address the plugins listen on when waiting for remote clients')
    scan.add_argument('--actuator-port', type=listen_port, action='append', default=[], dest='actuator_ports',
                      help='wait for a remote actuator on this port (twice for --scan 2D)')
    scan.add_argument('--detector-port', type=listen_port, help='wait for a remote detector on this port')
    scan.add_argument('--out', default='tcpbridge-scan', help='folder of the HDF5 file (a new file per run)')
    scan.add_argument('--plot', help='also render the scanned signal to this PNG file')
    scan.add_argument('--gui', action='store_true', help='open the dashboard with the experiment instead')
    scan.add_argument('--timeout', type=timeout_seconds, default=300.0, help='give up after this many seconds')
    scan.add_argument('--speed', type=number(0, what='the speed (mm/s)'),
                      default=0.0, help='demo stage speed, mm/s (0: instantaneous)')
    scan.add_argument('--peak-at', type=finite, default=5.0, help='demo detector peak position (mm)')
    scan.add_argument('--noise', type=number(0, what='the noise rms'), default=0.01, help='demo detector noise rms')
    scan.add_argument('--reconnect-wait', type=wait_seconds, default=60.0, metavar='SECONDS',
                      help='a client lost during a move or a grab is waited for this long, then sent the request '
                           "again (the scan pauses); past it the scan fails (0: at once). PyMoDAQ's scan timeouts "
                           'are set above it')


def _log_filter(record: logging.LogRecord) -> bool:
    """Errors from anyone; warnings from the bridge and its plugins only.  Left out: the error PyMoDAQ
    5.3 logs at the end of every scan, its own plugins included (DAQScan.set_ini_positions
    disconnects the actuators twice): harmless, and alarming in a terminal."""
    if record.name == 'pymodaq.modules_manager' and record.getMessage().startswith('disconnect() failed'):
        return False
    if record.name == 'pymodaq.bridge' and any(text in record.getMessage() for text in PRINTED_BY_THE_SCAN):
        return False  # the scan prints these itself, as one 'paused' / 'resumed' line with the scan point
    ours = record.name.startswith('tcpbridge') or record.name in ('pymodaq.bridge', 'pymodaq.viewer',
                                                                   'pymodaq.actuator')
    return record.levelno >= logging.ERROR or (ours and record.levelno >= logging.WARNING)


def _refusal(args: argparse.Namespace) -> str:
    """Why the options make no scan ('' when they do): what argparse cannot check option by option."""
    if args.start == args.stop:
        return f'--start and --stop are both {args.start:g}: a scan needs a range'
    stages = 2 if args.scan == '2D' else 1
    if args.actuator_ports and len(args.actuator_ports) != stages:
        return (f'a {args.scan} scan needs {stages} --actuator-port value(s), '
                f'{len(args.actuator_ports)} given')
    ports = [p for p in args.actuator_ports + [args.detector_port] if p]  # 0: a free port each
    if len(set(ports)) != len(ports):
        return f'each plugin needs its own port: {", ".join(map(str, ports))} has one twice'
    return ''


def run(args: argparse.Namespace) -> int:
    """Run ``tcpbridge scan``; returns the exit code (2: PyMoDAQ missing, or options that make no scan)."""
    refusal = _refusal(args)
    if refusal:
        print(f'tcpbridge scan: error: {refusal}', file=sys.stderr)
        return 2
    # PyMoDAQ logs its start-up at length: keep the terminal for the scan (unless --verbose)
    code = prepare('scan', args.gui, (lambda record: True) if args.verbose else _log_filter)
    if code:
        return code
    workdir = Path(tempfile.mkdtemp(prefix='tcpbridge-scan-'))
    # registered before PyMoDAQ registers its own atexit config saves, so it runs after them
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    # PyMoDAQ writes its config, logs and default data folder there: nothing outside --out
    redirect_pymodaq_config(workdir / 'pymodaq', save_path=workdir / 'data')
    from .scan import run as run_scan
    from .scan_options import ScanOptions
    options = ScanOptions(
        points=args.points, start=args.start, stop=args.stop, scan=args.scan, dim=args.dim,
        dialect=args.dialect, host=args.host, actuator_ports=args.actuator_ports,
        detector_port=args.detector_port, out=Path(args.out), plot=Path(args.plot) if args.plot else None,
        gui=args.gui, timeout=args.timeout, speed=args.speed, peak_at=args.peak_at, noise=args.noise,
        instruments=args.instruments, reconnect_wait=args.reconnect_wait)
    return run_scan(options, workdir)


COMMAND = Command(
    name='scan', add_arguments=add_arguments, run=run,
    help='DAQ_Scan of remote instruments through the TCPServer plugins (needs PyMoDAQ 5)',
    description='Run a PyMoDAQ DAQ_Scan of a remote actuator and a remote detector through the '
                'TCPServer plugins, headless, and check the HDF5 file it saves. By default demo '
                'clients are started on free loopback ports; with --actuator-port/--detector-port '
                'the plugins wait for real remote clients.')
