"""The ``tcpbridge module`` command: its arguments, and the start-up that must precede any PyMoDAQ
import (headless Qt unless ``--gui``, optionally PyMoDAQ's folders elsewhere).  Importing this module
loads no PyMoDAQ; :mod:`.module` does the work."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tcpbridge.argtypes import endpoint, port, timeout_seconds
from tcpbridge.commands import Command, add_dead_link_argument, add_tls_arguments, connection_from_arguments

from .leco_command import add_leco_arguments, quiet_pyleco
from .pymodaq_home import redirect_pymodaq_config
from .startup import prepare

log = logging.getLogger('tcpbridge')


def setting_argument(text: str) -> tuple:
    path, equal, value = text.partition('=')
    if not equal or not path:
        raise argparse.ArgumentTypeError(f'{text!r} is not PATH=VALUE (e.g. Nx=256, controller/axis=Y)')
    return path.strip('/'), value


#: loggers of PyMoDAQ's start-up warnings about optional libraries it does without, and deprecations
_START_UP_NOISE = ('pymodaq.backends', 'pymodaq.plotter', 'py.warnings')


def module_log_filter(record: logging.LogRecord) -> bool:
    """Ours at any level; PyMoDAQ's and the hosted plugin's warnings and errors; no start-up noise;
    pyleco's warnings and errors only."""
    if not quiet_pyleco(record):
        return False
    if record.name.startswith(('pymodaq', 'py.warnings')):
        return record.levelno >= (logging.ERROR if record.name in _START_UP_NOISE else logging.WARNING)
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``tcpbridge module``."""
    parser.add_argument('kind', nargs='?', choices=['move', 'viewer'],
                        help='move: a DAQ_Move (ACTUATOR client); viewer: a DAQ_Viewer (GRABBER client)')
    parser.add_argument('plugin', nargs='?',
                        help='instrument plugin: NAME for move (e.g. Mock), DAQ0D|DAQ1D|DAQ2D|DAQND/NAME for '
                             'viewer (e.g. DAQ2D/Mock); see --list')
    parser.add_argument('--list', action='store_true', help='list the installed instrument plugins and exit')
    parser.add_argument('--host', default='127.0.0.1', help='address of the PC running the TCPServer plugin')
    parser.add_argument('--port', type=port, default=6341, help='port of the TCPServer plugin')
    parser.add_argument('--listen', type=endpoint, metavar='[ADDR:]PORT',
                        help='wait for the commander (a TCPServer plugin set to "connect to instrument", or '
                             'any program speaking the protocol) here instead of connecting to --host/--port')
    add_tls_arguments(parser)
    add_dead_link_argument(parser)
    parser.add_argument('--dialect', choices=['pymodaq4', 'legacy'], default='pymodaq4',
                        help='pymodaq4: data with names, axes and units; legacy: arrays and scalars only')
    parser.add_argument('--axis', help='actuator axis (e.g. X), among those the plugin offers')
    parser.add_argument('--title', help='module title (default: the plugin name)')
    parser.add_argument('--set', type=setting_argument, action='append', default=[], dest='settings',
                        metavar='PATH=VALUE', help='set a hardware setting, before the initialisation and again '
                                               'after it (which may set its own values); repeatable, '
                                               'e.g. --set Nx=256')
    parser.add_argument('--grab', action='store_true',
                        help='viewer: start a continuous grab; its frames are pushed to the main PC')
    parser.add_argument('--gui', action='store_true', help="show the module's window (default: headless)")
    add_leco_arguments(parser)
    parser.add_argument('--timeout', type=timeout_seconds, default=60.0,
                        help='seconds to wait for the module: initialisation, one move, one acquisition, '
                             'signing in to LECO')
    add_pymodaq_home_argument(parser)


def add_pymodaq_home_argument(parser: argparse.ArgumentParser) -> None:
    """``--pymodaq-home FOLDER`` of ``tcpbridge module`` and ``serve``
    (:func:`.pymodaq_home.redirect_pymodaq_config`)."""
    parser.add_argument('--pymodaq-home', type=Path,
                        help="keep PyMoDAQ's config and logs in this folder, and the data it saves in its 'data' "
                             "subfolder unless that folder's PyMoDAQ config says otherwise; one folder per process "
                             'started at the same time, as PyMoDAQ writes its config files as it starts (default: '
                             "the user's, ~/.pymodaq)")


def run(args: argparse.Namespace) -> int:
    """Run ``tcpbridge module``; returns the exit code (2: usage or PyMoDAQ missing)."""
    if not args.list and (args.kind is None or args.plugin is None):
        log.error('tcpbridge module: give KIND and PLUGIN (e.g. "move Mock", "viewer DAQ2D/Mock"), or --list')
        return 2
    if args.kind == 'viewer' and not args.list and args.plugin.split('/')[0] not in ('DAQ0D', 'DAQ1D', 'DAQ2D',
                                                                                         'DAQND'):
        log.error('tcpbridge module viewer: PLUGIN is DAQ0D|DAQ1D|DAQ2D|DAQND/NAME, e.g. DAQ2D/Mock (not %r)',
                  args.plugin)
        return 2
    # PyMoDAQ logs its start-up at length: keep the terminal for the bridge's events (unless --verbose)
    code = prepare('module', args.gui, (lambda record: True) if args.verbose else module_log_filter)
    if code:
        return code
    if args.pymodaq_home is not None:
        redirect_pymodaq_config(args.pymodaq_home)
    from .module import list_plugins
    if args.list:
        return list_plugins()
    from .module import ModuleOptions
    from .module import run as run_module
    from .module_host import Endpoint
    try:
        host, port, listen, tls = connection_from_arguments(args)
    except (OSError, ValueError) as error:
        log.error('TLS: %s', error)
        return 2
    options = ModuleOptions(kind=args.kind, plugin=args.plugin,
                            endpoint=Endpoint(host, port, listen=listen, dialect=args.dialect,
                                              tls=tls, secret=args.secret, dead_link_s=args.dead_link),
                            axis=args.axis, title=args.title or '', settings=args.settings, grab=args.grab,
                            gui=args.gui, timeout=args.timeout, leco_name=args.leco_name or '',
                            coordinator=args.coordinator)
    return run_module(options)


COMMAND = Command(
    name='module', add_arguments=add_arguments, run=run,
    help='host a PyMoDAQ 5 instrument plugin here and bridge it to a TCPServer plugin (needs PyMoDAQ 5)',
    description='Run a PyMoDAQ 5 DAQ_Move or DAQ_Viewer with an installed instrument plugin on this (instrument) '
                'PC and connect it to a TCPServer plugin of the main PC as an ACTUATOR or GRABBER client: its '
                'settings are mirrored both ways, moves and grabs are served, its status and errors are '
                'shown on the main PC. Stops cleanly (hardware closed) on Ctrl+C or SIGTERM.')
