"""The ``tcpbridge`` command: demo instruments (``grabber``, ``actuator``), ``replay``, and the
PyMoDAQ-side applications (``scan``...) found through the entry-point group ``tcpbridge.commands``.

``tcpbridge grabber --host 127.0.0.1 --port 6341 --dim 1D`` serves a simulated detector,
``tcpbridge actuator --port 6342 --units mm`` a simulated stage, ``tcpbridge scan`` runs a
PyMoDAQ DAQ_Scan through the TCPServer plugins (needs the ``[pymodaq]`` extra and a Qt binding).
Both clients wait for the server, reconnect, and stop cleanly on Ctrl+C / SIGTERM.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import ssl
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .argtypes import (
    connect_endpoint,
    endpoint,
    existing_file,
    finite,
    number,
    port,
    timeout_seconds,
    wait_seconds,
    whole,
)
from .instruments.demo import DEFAULT_SHAPES, SimulatedDetector, SimulatedStage, parse_shape
from .net.client import BridgeClient
from .net.tls import endpoint_context
from .net.transport import DEAD_LINK_S, format_address, keepalive_times
from .protocol.dialects import Dialect, DwaLayout
from .protocol.dtypes import dtype_to_wire
from .protocol.errors import EncodeError
from .tools import conformance, transcript
from .tools.monitor import Monitor
from .version import __version__

log = logging.getLogger('tcpbridge')
PYMODAQ_INSTALL = ('python -m pip install ".[pymodaq,pyqt6]" in a checkout of pymodaq_plugins_tcpbridge '
                   '(or "WHEEL.whl[pymodaq,pyqt6]")')
#: the entry-point group where PyMoDAQ-side packages add commands
COMMANDS_GROUP = 'tcpbridge.commands'
#: commands that PyMoDAQ-side packages provide, for the message shown when they are not installed
APP_COMMANDS = {'scan': 'DAQ_Scan of remote instruments through the TCPServer plugins',
                'module': 'host a PyMoDAQ 5 instrument plugin here and bridge it to a TCPServer plugin'}


@dataclass(frozen=True)
class Command:
    """A subcommand added by another package (entry-point group ``tcpbridge.commands``).

    Attributes:
        name: the subcommand, e.g. ``'scan'``.
        add_arguments: fills the subcommand's parser (called for every ``tcpbridge`` run: it must
            import nothing heavy).
        run: runs it with the parsed arguments; returns the exit code.
        help: one line for ``tcpbridge --help``; description: the subcommand's ``--help`` text.
    """

    name: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    help: str
    description: str = ''


def app_commands() -> Dict[str, Command]:
    """The commands registered in the ``tcpbridge.commands`` group, by name (a broken one is logged
    and left out)."""
    found = {}
    if sys.version_info >= (3, 10):
        points = entry_points(group=COMMANDS_GROUP)
    else:  # Python 3.9: a dict of groups
        points = entry_points().get(COMMANDS_GROUP, ())
    for point in points:
        try:
            command = point.load()
        except Exception as error:  # a broken install must not break the demo clients
            log.warning('tcpbridge command %r could not be loaded: %s', point.name, error)
            continue
        found[command.name] = command
    return found


def _missing_app(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        log.error('tcpbridge %s needs PyMoDAQ 5 and the TCPServer plugins; install them with: %s',
                  name, PYMODAQ_INSTALL)
        return 2
    return run
def _dtype(text: str) -> str:
    """argparse type of ``--dtype``: a numeric numpy dtype the wire carries (docs/protocol.rst §4.16)."""
    try:
        dtype = np.dtype(text)
        dtype_to_wire(dtype.newbyteorder('<') if dtype.byteorder == '>' else dtype)
    except (TypeError, ValueError, EncodeError):
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a numeric dtype (e.g. uint8, uint16, int32, float32, float64, complex128)') from None
    return text


def _shape(text: str) -> Tuple[int, ...]:
    """argparse type of ``--shape``."""
    try:
        return parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: the number of dimensions each --dim takes (ND: 3 or more)
DIM_NDIMS = {'0D': (1,), '1D': (1,), '2D': (2,), 'ND': tuple(range(3, 33))}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown in ``--help`` once: not for options without one (None, an empty list of a
    repeatable option) or flags, nor where the help text already says it; an address default as
    ``HOST:PORT``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ''
        default = action.default
        if default is None or default is argparse.SUPPRESS or isinstance(default, bool) or not action.option_strings \
                or default == [] or 'default' in text:
            return text
        if isinstance(default, tuple) and len(default) == 2:
            return f'{text} (default: {format_address(default)})'
        return f'{text} (default: %(default)s)'


LAYOUTS = {'4.4': DwaLayout.V4_4, '4.2': DwaLayout.V4_2, '4.1.3': DwaLayout.V4_1_3, '4.1.0': DwaLayout.V4_1_0}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--host', default='127.0.0.1', help='address of the PC running PyMoDAQ')
    parser.add_argument('--port', type=port, default=6341, help='port of the TCPServer plugin')
    parser.add_argument('--dialect', choices=[d.value for d in Dialect], default='legacy',
                        help='legacy: arrays/scalars (any server); pymodaq4: DataToExport with axes/units')
    parser.add_argument('--layout', choices=list(LAYOUTS), default='4.4',
                        help='pymodaq4 dialect: layout of the PyMoDAQ version of the server (4.2 for 4.2-4.3)')
    parser.add_argument('--listen', type=endpoint, metavar='[ADDR:]PORT',
                        help='wait for the commander (a TCPServer plugin set to "connect to instrument", or '
                             'any program speaking the protocol) on this address instead of connecting to '
                             '--host/--port; ADDR defaults to 127.0.0.1 (0.0.0.0: every interface)')
    add_tls_arguments(parser)
    parser.add_argument('--once', action='store_true', help='do not reconnect after the connection ends')
    parser.add_argument('--max-attempts', type=whole(1, 'the number of attempts'), default=None,
                        help='give up after this many failed connection attempts (None: never)')
    add_dead_link_argument(parser)


def add_dead_link_argument(parser: argparse.ArgumentParser) -> None:
    """``--dead-link SECONDS`` (:func:`tcpbridge.net.transport.configure`)."""
    parser.add_argument('--dead-link', type=_dead_link, default=DEAD_LINK_S, metavar='SECONDS',
                        help='declare the plugin gone (and reconnect) when it answers neither TCP keepalive '
                             'probes nor data for this long: a cable, a power cut, a firewall (>= 2)')


def _dead_link(text: str) -> float:
    try:
        seconds = float(text)
        keepalive_times(seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f'{text!r}: {error}') from None
    return seconds


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tls-ca``, ``--tls-cert``, ``--tls-key`` (see :func:`tcpbridge.net.tls.endpoint_context`) and
    ``--secret`` (shared-secret authentication)."""
    parser.add_argument('--tls-ca', type=existing_file, metavar='PEM',
                        help="TLS: the lab CA (ca.pem of 'tcpbridge cert'): verifies the plugin (or, with --listen, "
                             'the commanders)')
    parser.add_argument('--tls-cert', type=existing_file, metavar='PEM',
                        help='TLS: our certificate (required with --listen)')
    parser.add_argument('--tls-key', type=existing_file, metavar='PEM', help='TLS: the private key of --tls-cert')
    parser.add_argument('--secret', default=os.environ.get('TCPBRIDGE_SECRET') or None,
                        help="authenticate with this shared secret (the plugin's auth_secret); default: the "
                             'environment variable TCPBRIDGE_SECRET, which, unlike an argument, other users '
                             'of the PC cannot see')


def connection_from_arguments(args: argparse.Namespace) -> Tuple[str, int, bool, Optional[ssl.SSLContext]]:
    """``(host, port, listen, tls)`` of ``--host``/``--port`` or ``--listen`` and the TLS options.

    Raises:
        ValueError / OSError / ssl.SSLError: TLS options that cannot make a context.
    """
    host, port = args.listen or (args.host, args.port)
    listen = args.listen is not None
    return host, port, listen, endpoint_context(listen, args.tls_ca, args.tls_cert, args.tls_key)


def _subcommand(commands: argparse._SubParsersAction, name: str, help: str,
                description: Optional[str] = None) -> argparse.ArgumentParser:
    return commands.add_parser(name, formatter_class=_Formatter, help=help, description=description or help)


def build_parser() -> argparse.ArgumentParser:
    """The ``tcpbridge`` parser, with the subcommands of the ``tcpbridge.commands`` entry points."""
    parser = argparse.ArgumentParser(
        prog='tcpbridge', formatter_class=_Formatter,
        description='Remote instruments for the TCPServer plugins of PyMoDAQ 5: demo detector and stage '
                    'clients, transcript replay, and a DAQ_Scan through the bridge.')
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    grabber = _subcommand(commands, 'grabber', help='serve a simulated detector (GRABBER client)',
                          description='A simulated detector: a gaussian spot (or line, or value) whose '
                                      'amplitude follows the demo stage(s), with modest noise.')
    _common(grabber)
    grabber.add_argument('--dim', choices=['0D', '1D', '2D', 'ND'], default='1D', help='data dimensionality')
    grabber.add_argument('--shape', type=_shape, help='data shape, e.g. 2048x2048 (default: by --dim, '
                         + ', '.join(f'{d} {"x".join(map(str, s))}' for d, s in DEFAULT_SHAPES.items()) + ')')
    grabber.add_argument('--dtype', type=_dtype, default='float64', help='numpy dtype, e.g. uint16')
    grabber.add_argument('--pattern', action='store_true', help='deterministic counter pattern, no noise')
    grabber.add_argument('--push-rate', type=number(0, 1e6, what='the rate (Hz)'), default=0.0, metavar='HZ',
                         help='also push data unsolicited at this rate (streaming); 0: only when asked')
    grabber.add_argument('--peak-at', type=finite, default=5.0, help='stage position of the signal peak')
    grabber.add_argument('--peak-width', type=number(0, exclusive_minimum=True, what='the width'),
                         default=1.5, help='width of the peak (stage units)')
    grabber.add_argument('--seed', type=whole(0, 'the seed'),
                         default=None, help='random seed of the noise (None: random)')
    grabber.add_argument('--noise', type=number(0, what='the noise rms'),
                         default=None, help='noise rms (None: 0.01, 0 with --pattern)')
    grabber.add_argument('--position-file', action='append', default=[], dest='position_files',
                         help='file where a demo stage writes its position (repeat for each scanned '
                              'axis): the signal peaks when every stage is at --peak-at')

    actuator = _subcommand(commands, 'actuator', help='serve a simulated stage (ACTUATOR client)',
                           description='A simulated stage: moves at --speed, reports its position while '
                                       'moving, stops on stop_motion.')
    _common(actuator)
    actuator.add_argument('--units', default='mm', help='axis units')
    actuator.add_argument('--speed', type=number(0, what='the speed (units/s)'),
                          default=10.0, help='units per second; 0: instantaneous')
    actuator.add_argument('--position', type=finite, default=0.0, help='initial position')
    actuator.add_argument('--position-file', help='file where the stage writes its position (read by '
                          'the demo detector)')

    cert = _subcommand(commands, 'cert', help='make a lab PKI for TLS (a CA, a server and client certificates)',
                       description='Write ca.pem (and ca.key), server.pem / server.key for the names and '
                                   'addresses of the listening side, and NAME.pem / NAME.key per client, then '
                                   'say what to copy where. Needs the [tls] extra (cryptography).')
    cert.add_argument('--out', required=True, help='folder for the files (created)')
    cert.add_argument('--host', action='append', required=True, dest='hosts', metavar='NAME_OR_IP',
                      help='a name or address clients reach the listening side by (repeat for each)')
    cert.add_argument('--client', action='append', default=[], dest='clients', metavar='NAME',
                      help='a client certificate to make (repeat for each instrument PC)')
    cert.add_argument('--days', type=whole(1, 'the number of days'), default=825, help='validity of the certificates')

    replay = _subcommand(
        commands, 'replay', help='play a session transcript as a client and compare what the server answers',
        description='Play a transcript (examples/labview/transcripts/*.txt, or one you wrote) against a '
                    'TCPServer plugin: ">" lines are sent, "<" lines are awaited and compared byte for byte.')
    replay.add_argument('file', help='the transcript')
    replay.add_argument('--host', default='127.0.0.1', help='address of the PC running PyMoDAQ')
    replay.add_argument('--port', type=port, default=6341, help='port of the TCPServer plugin')
    replay.add_argument('--timeout', type=timeout_seconds, default=60.0,
                        help='seconds to wait for each answer of the server (a grab or a move may need you)')

    monitor = _subcommand(
        commands, 'monitor', help='relay a client to a server and print every message both ways',
        description='A transparent relay: point the client at --listen, the relay connects to --to and prints '
                    'every message both ways, decoded (dialect detected), large arrays summarised; --save writes '
                    'the session as a transcript that "tcpbridge replay" plays.')
    monitor.add_argument('--listen', type=endpoint, default=('127.0.0.1', 6340), metavar='[ADDR:]PORT',
                         help='where the client connects (ADDR default 127.0.0.1)')
    monitor.add_argument('--to', type=connect_endpoint, required=True, metavar='HOST:PORT',
                         help='the server (the TCPServer plugin)')
    monitor.add_argument('--save', metavar='FILE', help='also write the session as a transcript')
    monitor.add_argument('--sessions', type=whole(1, 'the number of sessions'), default=None,
                         help='stop after this many client sessions (None: until Ctrl+C)')

    check = _subcommand(
        commands, 'check-client', help='check a client you wrote (LabVIEW, C...) against the protocol',
        description='Plays the TCPServer plugin for your client: listens, waits for it, drives it through every '
                    'command of its role, and prints PASS/WARN/FAIL per step with what was expected and what came '
                    '(decoded and in hex, with the byte offset). Exit code 0 only if no step failed.')
    check.add_argument('--role', choices=['grabber', 'actuator'], required=True, help='what the client is')
    check.add_argument('--dialect', choices=['auto', 'legacy', 'pymodaq4'], default='auto',
                       help='the dialect the client must speak (auto: whichever it speaks)')
    check.add_argument('--listen', type=endpoint, default=('127.0.0.1', 6341), metavar='[ADDR:]PORT',
                       help='where the client connects')
    check.add_argument('--timeout', type=timeout_seconds, default=10.0, help='seconds to wait for each answer')
    check.add_argument('--wait-connect', type=timeout_seconds, default=120.0, help='seconds to wait for the client')
    check.add_argument('--wait-quit', type=wait_seconds, default=0.0,
                       help='seconds to wait at the end for the client to send Quit (0: not checked)')
    check.add_argument('--json', metavar='FILE', help='also write the report as JSON (for CI)')

    apps = app_commands()
    for name, summary in APP_COMMANDS.items():
        if name not in apps:
            missing = _subcommand(commands, name, help=f'{summary} (needs the [pymodaq] extra)')
            missing.set_defaults(run=_missing_app(name))
    for command in apps.values():
        sub = _subcommand(commands, command.name, help=command.help, description=command.description)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def parse_arguments(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> argparse.Namespace:
    """Parse ``argv``; errors in a subcommand's options show that subcommand's usage (exit 2)."""
    args, unknown = parser.parse_known_args(argv)
    sub = _subparsers(parser)[args.command]
    if unknown:
        sub.error(f'unrecognized arguments: {" ".join(unknown)}')
    if args.command == 'grabber' and args.shape is not None and len(args.shape) not in DIM_NDIMS[args.dim]:
        sub.error(f'--shape {"x".join(map(str, args.shape))} has {len(args.shape)} dimension(s); '
                  f'--dim {args.dim} needs {"3 or more" if args.dim == "ND" else DIM_NDIMS[args.dim][0]}')
    return args


def _subparsers(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def _run_client(client: BridgeClient) -> int:
    """Run ``client`` until Ctrl+C / SIGTERM: their handler only calls :meth:`BridgeClient.interrupt`
    (raising KeyboardInterrupt in the middle of the client's code could leave one of its locks
    taken, and the process would hang instead of exiting)."""
    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        client.interrupt()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        client.run()
    except ConnectionError as error:
        log.error('%s', error)
        return 1
    except OSError as error:  # --listen on an address in use or not of this machine
        log.error('cannot listen: %s', error)
        return 2
    finally:
        client.stop()  # a move still running is stopped (the run loop has returned)
    if client.interrupted:
        log.info('stopped')
    return 0


def _check_client(args: argparse.Namespace) -> int:
    dialect = None if args.dialect == 'auto' else Dialect(args.dialect)
    try:
        steps = conformance.check_client(
            args.role, *args.listen, dialect=dialect, timeout=args.timeout, wait_connect=args.wait_connect,
            wait_quit=args.wait_quit,
            on_listening=lambda address: log.info('waiting for the %s client on %s', args.role,
                                                  format_address(address)))
    except KeyboardInterrupt:  # Ctrl+C while waiting: the shell's convention, no traceback
        log.info('interrupted: no report')
        return 130
    except (OSError, TimeoutError) as error:
        where = format_address(args.listen)
        log.error('%s', f'cannot listen on {where}: {error.strerror}' if isinstance(error, OSError) and
                  error.strerror and where not in str(error) else error)
        return 2
    if args.json:
        conformance.write_json(steps, args.json)
    return conformance.report(steps, sys.stdout)


def _monitor(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        save = stack.enter_context(open(args.save, 'w', encoding='utf-8')) if args.save else None
        try:
            relay = Monitor(*args.listen, *args.to, out=sys.stdout, save=save)
        except OSError as error:
            log.error('cannot listen on %s: %s', format_address(args.listen), error)
            return 2
        log.info('relaying %s -> %s%s', format_address(relay.address), format_address(args.to),
                 f', saving to {args.save}' if save else '')
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            relay.serve(args.sessions)
        except KeyboardInterrupt:
            log.info('stopped')
    return 0


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


def _cert(args: argparse.Namespace) -> int:
    from .tools.cert import TLS_INSTALL, instructions, make_pki
    try:
        issued = make_pki(Path(args.out), args.hosts, args.clients, args.days)
    except ImportError:
        log.error('tcpbridge cert needs the cryptography package: %s', TLS_INSTALL)
        return 2
    except (OSError, ValueError) as error:
        log.error('%s', error)
        return 2
    print(instructions(issued))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``tcpbridge`` console script; returns the exit code."""
    args = parse_arguments(build_parser(), argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(asctime)s tcpbridge %(levelname)s: %(message)s', datefmt='%H:%M:%S',
                        stream=sys.stderr)
    if getattr(args, 'run', None) is not None:
        return args.run(args)
    if args.command == 'check-client':
        return _check_client(args)
    if args.command == 'monitor':
        return _monitor(args)
    if args.command == 'replay':
        return _replay(args)
    if args.command == 'cert':
        return _cert(args)
    try:
        host, port, listen, tls = connection_from_arguments(args)
    except (OSError, ValueError) as error:
        log.error('TLS: %s', error)
        return 2
    common = dict(host=host, port=port, listen=listen, tls=tls, secret=args.secret, dialect=args.dialect,
                  layout=LAYOUTS[args.layout], reconnect=not args.once, max_attempts=args.max_attempts,
                  dead_link_s=args.dead_link)
    where = f'the commander on {format_address((host, port))}' if args.listen else format_address((host, port))
    client: BridgeClient
    if args.command == 'grabber':
        client = SimulatedDetector(dim=args.dim, shape=args.shape, dtype=args.dtype, pattern=args.pattern,
                                   push_rate=args.push_rate, peak_at=args.peak_at, peak_width=args.peak_width,
                                   seed=args.seed, position_files=args.position_files, **common)
        if args.noise is not None:
            client.set_setting(['noise'], args.noise)
        log.info('simulated %s detector %s %s for %s', args.dim, 'x'.join(map(str, client.shape)),
                 client.dtype, where)
    else:
        client = SimulatedStage(units=args.units, speed=args.speed, position=args.position,
                                position_file=args.position_file, **common)
        log.info('simulated stage in %s at %s/s for %s', args.units, args.speed, where)
    return _run_client(client)


if __name__ == '__main__':
    sys.exit(main())
