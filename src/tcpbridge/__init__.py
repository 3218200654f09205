"""tcpbridge: connect remote instruments to PyMoDAQ 5's TCPServer plugins.

What a client author uses is importable from here: the clients (:class:`GrabberClient`,
:class:`ActuatorClient`, :class:`ObserverClient`, :class:`BridgeClient`), the demo instruments,
the dialect and TLS settings, and :mod:`tcpbridge.wire`, the messages and the wire forms of
PyMoDAQ's data classes (``wire.DataToExport``, ``wire.DataWithAxes``, ``wire.Axis``).  Beside it:

- :mod:`tcpbridge.server`: the server engine and its events, as the TCPServer plugins use them;
- :mod:`tcpbridge.commands`: what a ``tcpbridge`` subcommand uses (shared options, client processes).

Pure Python + numpy (no Qt, no pymodaq), in layers that import downwards only:
:mod:`tcpbridge.protocol` (the sans-I/O core), :mod:`tcpbridge.net` (sockets, the server engine,
the client library), :mod:`tcpbridge.instruments`, :mod:`tcpbridge.tools` and :mod:`tcpbridge.cli`.
The names of tcpbridge 0.2 that moved to those namespaces still import from here, with a
DeprecationWarning that names their new home.
"""
from __future__ import annotations

import importlib
import warnings
from typing import Any

from . import wire
from .instruments.demo import SimulatedDetector, SimulatedStage
from .net.actuator import ActuatorClient
from .net.client import BridgeClient, ConnectionLost, RefusedByServer
from .net.grabber import GrabberClient
from .net.observer import ObserverClient
from .net.tls import client_context, endpoint_context, server_context
from .net.transport import DEAD_LINK_S
from .protocol.dialects import Dialect, DwaLayout
from .protocol.limits import Limits
from .protocol.messages import ACTUATOR, GRABBER
from .version import __version__

__all__ = [
    'ACTUATOR', 'DEAD_LINK_S', 'GRABBER', '__version__',
    'ActuatorClient', 'BridgeClient', 'ConnectionLost', 'Dialect', 'DwaLayout', 'GrabberClient', 'Limits',
    'ObserverClient', 'RefusedByServer', 'SimulatedDetector', 'SimulatedStage', 'client_context',
    'endpoint_context', 'server_context', 'wire',
]

#: the namespaces that hold what moved out of ``tcpbridge`` in 0.3, searched in this order
_NEW_HOMES = ('tcpbridge.wire', 'tcpbridge.server', 'tcpbridge.commands')
#: names of 0.2 that moved under another name: old -> (home, new name)
_RENAMED = {'Role': ('tcpbridge.wire', 'Side'), 'ControllerChanged': ('tcpbridge.server', 'ControlChanged')}


def __getattr__(name: str) -> Any:
    """A name of tcpbridge 0.2 that moved (PEP 562): found in its new home, with a DeprecationWarning.

    Raises:
        AttributeError: no such name.
    """
    if name in _RENAMED:
        home, new_name = _RENAMED[name]
        warnings.warn(f'tcpbridge.{name} is now {home}.{new_name}', DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(home), new_name)
    for home in _NEW_HOMES:
        module = importlib.import_module(home)
        if name in module.__all__:
            warnings.warn(f'tcpbridge.{name} moved: import it from {home}', DeprecationWarning, stacklevel=2)
            return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
