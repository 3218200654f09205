"""LECO pieces for the tests of ``tcpbridge serve`` and ``tcpbridge module --leco-name``: a real pyleco
Coordinator process, and real PyMoDAQ 5.3 modules with the LECODirector plugins of pymodaq_plugins_mock
(in the test's process: their RPCs wait for the actor, which must not share this Qt thread)."""
from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

from helpers import qt_app, wait_until
from pymodaq_plugins_tcpbridge.apps.module import initialise


def start_coordinator(port: int) -> subprocess.Popen:
    """A pyleco Coordinator process on ``port`` of this PC, once it listens."""
    process = subprocess.Popen([sys.executable, '-m', 'pyleco.coordinators.coordinator', '--port', str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: _accepts(port), 20, 'the coordinator to listen')
    return process


def answers(actor: str, port: int) -> bool:
    """True if ``actor`` answers a ping through the Coordinator on ``port`` (pyleco's own Director)."""
    from pyleco.directors.director import Director
    try:
        with Director(actor=actor, port=port, timeout=1) as ping:
            ping.ask_rpc('pong')
            return True
    except Exception:  # TimeoutError, or an error message: not signed in (yet)
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


def director(kind: str, actor: str, coordinator_port: int, daq_type: str = 'DAQ1D') -> Any:
    """A real DAQ_Move / DAQ_Viewer with PyMoDAQ's LECODirector plugin aimed at ``actor``, initialised,
    as a dashboard on another PC would have it."""
    qt_app()
    if kind == 'move':
        from pymodaq.control_modules.daq_move import DAQ_Move
        module = DAQ_Move(None, title=f'director of {actor}')
        module.actuator = 'LECODirector'
    else:
        from pymodaq.control_modules.daq_viewer import DAQ_Viewer
        module = DAQ_Viewer(None, title=f'director of {actor}', daq_type=daq_type)
        module.detector = 'LECODirector'
    settings = module.settings.child(module._hw_settings_name)
    settings.child('actor_name').setValue(actor)
    settings.child('host').setValue('127.0.0.1')
    settings.child('port').setValue(coordinator_port)
    initialise(module, 30.0)
    return module


def move_through(module: Any, target: float) -> float:
    """Move a director DAQ_Move to ``target``; the position its ``move_done`` reports."""
    done: list = []
    module.move_done_signal.connect(done.append)
    try:
        module.move_abs(target)
        wait_until(lambda: done, 30, f'move_done at {target} through LECO', qt=True)
    finally:
        module.move_done_signal.disconnect(done.append)
    return float(done[-1].value())
