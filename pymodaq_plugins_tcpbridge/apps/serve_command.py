"""The ``tcpbridge serve`` command: its arguments, and the start-up that must precede any PyMoDAQ import
(headless Qt, optionally PyMoDAQ's folders elsewhere).  Importing this module loads no PyMoDAQ;
:mod:`.serve` does the work."""
from __future__ import annotations

import argparse
import logging

from tcpbridge.argtypes import connect_endpoint, listen_port, timeout_seconds, whole
from tcpbridge.commands import Command

from .leco_command import add_leco_arguments
from .module_command import add_pymodaq_home_argument, module_log_filter, setting_argument
from .pymodaq_home import redirect_pymodaq_config
from .startup import prepare

log = logging.getLogger('tcpbridge')

#: the DAQ_Viewer types a served viewer can be
DAQ_TYPES = ('DAQ0D', 'DAQ1D', 'DAQ2D', 'DAQND')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``tcpbridge serve``."""
    parser.add_argument('kind', choices=['move', 'viewer'],
                        help='move: a DAQ_Move_TCPServer (for ACTUATOR clients); viewer: a DAQ_xDViewer_TCPServer '
                             '(for GRABBER clients)')
    parser.add_argument('daq_type', nargs='?', choices=DAQ_TYPES, default=None,
                        help='viewer: its dimensionality (default DAQ2D)')
    parser.add_argument('--host', help="address to listen on (the plugin's IP setting; default: its configured one, "
                                       '0.0.0.0 for every network card)')
    parser.add_argument('--port', type=listen_port, help="port to listen on (the plugin's Port; 0: any free port, "
                                                         'printed; default: its configured one)')
    parser.add_argument('--connect', type=connect_endpoint, metavar='HOST:PORT',
                        help='dial an instrument that listens (tcpbridge module ... --listen) instead of listening')
    parser.add_argument('--set', type=setting_argument, action='append', default=[], dest='settings',
                        metavar='PATH=VALUE',
                        help="set one of the plugin's settings, e.g. --set security/auth_secret=s3cret, "
                             '--set security/allowed_clients=192.168.1.0/24, --set limits/reconnect_wait=30, '
                             '--set security/tls_cert=server.pem; repeatable')
    parser.add_argument('--title', help='module title (default: TCPServer move / TCPServer DAQ2D)')
    parser.add_argument('--count', type=whole(1, 'the number of modules'), default=1, metavar='N',
                        help='host a group of N identical modules in this process, one client each: ports PORT, '
                             'PORT+1... (--port 0: a free port each, printed), titles and LECO names numbered '
                             '1..N (NAME1, NAME2...). One process has one ceiling for all its data: see the '
                             "guide's 'Many instruments in one process'")
    add_leco_arguments(parser)
    parser.add_argument('--timeout', type=timeout_seconds, default=60.0,
                        help='seconds to wait for the module to initialise and for LECO to sign in')
    add_pymodaq_home_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``tcpbridge serve``; returns the exit code (2: usage or PyMoDAQ missing)."""
    if args.kind == 'move' and args.daq_type is not None:
        log.error('tcpbridge serve move takes no DAQ type (%s is for viewer)', args.daq_type)
        return 2
    if args.connect is not None and (args.host is not None or args.port is not None):
        log.error('tcpbridge serve: --connect dials the instrument; --host/--port are where to listen: give one')
        return 2
    if args.connect is not None and args.count > 1:
        log.error('tcpbridge serve: --connect dials one instrument; a group (--count %d) listens', args.count)
        return 2
    if args.port and args.port + args.count - 1 > 65535:
        log.error('tcpbridge serve: ports %d to %d: past 65535', args.port, args.port + args.count - 1)
        return 2
    code = prepare('serve', False, (lambda record: True) if args.verbose else module_log_filter)
    if code:
        return code
    if args.pymodaq_home is not None:
        redirect_pymodaq_config(args.pymodaq_home)
    from .serve import ServeOptions
    from .serve import run as run_serve
    settings = []
    if args.connect is not None:
        settings += [('connection', 'connect to instrument'), ('socket_ip', args.connect[0]),
                     ('port_id', str(args.connect[1]))]
    if args.host is not None:
        settings.append(('socket_ip', args.host))
    options = ServeOptions(kind=args.kind, daq_type=args.daq_type or 'DAQ2D', title=args.title or '',
                           port=args.port, settings=settings + args.settings, leco_name=args.leco_name or '',
                           coordinator=args.coordinator, timeout=args.timeout, count=args.count)
    return run_serve(options)


COMMAND = Command(
    name='serve', add_arguments=add_arguments, run=run,
    help='run a TCPServer plugin in a headless PyMoDAQ 5 module, optionally as a LECO actor (needs PyMoDAQ 5)',
    description='Run DAQ_Move_TCPServer or DAQ_xDViewer_TCPServer in a real PyMoDAQ 5 module without a dashboard, '
                'on the main PC: remote bridge clients (LabVIEW, C, Python) connect to it as to the dashboard\'s. '
                "With --leco-name the module also joins a LECO network in PyMoDAQ's own actor mode, so that "
                'LECODirector plugins and pyleco scripts drive the instrument. Stops cleanly on Ctrl+C or SIGTERM.')
