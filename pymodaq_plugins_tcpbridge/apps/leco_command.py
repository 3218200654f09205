"""The LECO options shared by ``tcpbridge serve`` and ``tcpbridge module`` (``--leco-name``,
``--coordinator``) and the log filter for pyleco.  Importing this module loads no PyMoDAQ or pyleco."""
from __future__ import annotations

import argparse
import logging

from tcpbridge.argtypes import connect_endpoint

#: pyleco's usual Coordinator port
DEFAULT_COORDINATOR = ('localhost', 12300)


def add_leco_arguments(parser: argparse.ArgumentParser) -> None:
    """``--leco-name NAME`` and ``--coordinator HOST:PORT``."""
    parser.add_argument('--leco-name', metavar='NAME',
                        help="put the module in PyMoDAQ's LECO actor mode under NAME: LECODirector plugins and "
                             'pyleco scripts drive it through a LECO Coordinator')
    parser.add_argument('--coordinator', type=connect_endpoint, metavar='HOST:PORT', default=DEFAULT_COORDINATOR,
                        help='the LECO Coordinator (default localhost:12300); none answering on this PC: one is '
                             'started in this process')


def quiet_pyleco(record: logging.LogRecord) -> bool:
    """False for pyleco's records below WARNING (it logs every message it routes at INFO); True else."""
    if record.name.startswith(('pyleco', '__main__')):  # pyleco's handlers log as '__main__.MessageHandler'
        return record.levelno >= logging.WARNING
    return True
