"""What a ``tcpbridge`` subcommand uses (the entry-point group ``tcpbridge.commands``: the plugin
package's ``scan`` and ``module``): the command description, the shared command-line options, client
processes, and the install hint.
"""
from __future__ import annotations

from .cli import PYMODAQ_INSTALL, Command, add_dead_link_argument, add_tls_arguments, connection_from_arguments
from .net.transport import parse_endpoint
from .tools.processes import ClientProcess

__all__ = ['PYMODAQ_INSTALL', 'ClientProcess', 'Command', 'add_dead_link_argument', 'add_tls_arguments',
           'connection_from_arguments', 'parse_endpoint']
