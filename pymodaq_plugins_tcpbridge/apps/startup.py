"""What the ``tcpbridge`` commands that run PyMoDAQ (``scan``, ``module``) check and set before
importing it: PyMoDAQ and Qt installed, a window possible (``--gui``) or headless Qt, a quiet log.
Standard library only: importing this module loads no PyMoDAQ."""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
from typing import Callable

from tcpbridge.commands import PYMODAQ_INSTALL

log = logging.getLogger('tcpbridge')


def prepare(command: str, gui: bool, log_filter: Callable[[logging.LogRecord], bool]) -> int:
    """Check and set up what ``tcpbridge COMMAND`` needs; returns 0, or the exit code 2 after saying
    why it cannot run (PyMoDAQ missing, or ``--gui`` without a usable display)."""
    missing = [name for name in ('pymodaq', 'qtpy') if importlib.util.find_spec(name) is None]
    if missing:
        log.error('tcpbridge %s needs PyMoDAQ 5 (%s not found); install it with: %s', command,
                  ', '.join(missing), PYMODAQ_INSTALL)
        return 2
    if gui:
        problem = window_problem()
        if problem:
            log.error('tcpbridge %s --gui: %s; or run without --gui (headless)', command, problem)
            return 2
    else:
        os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
        # offscreen windows cannot be sized or raised: Qt says so for each one
        os.environ.setdefault('QT_LOGGING_RULES', 'qt.qpa.*=false;default.warning=false')
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
    return 0


_QT_PROBE = 'from qtpy.QtWidgets import QApplication; QApplication([])'
_MISSING_LIBRARY = re.compile(r'(lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file')


def window_problem() -> str:
    """Why Qt cannot open a window here ('' if it can).  Qt aborts the process (exit 134) when its
    platform plugin does not load: this asks a child process first, and names the missing system
    libraries (e.g. ``libxcb-icccm.so.4``, Debian/Ubuntu package ``libxcb-icccm4``)."""
    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
        return 'no display: DISPLAY and WAYLAND_DISPLAY are not set (a desktop session, ssh -X, or Xvfb)'
    probe = subprocess.run([sys.executable, '-c', _QT_PROBE], capture_output=True, text=True, timeout=60,
                           env={**os.environ, 'QT_DEBUG_PLUGINS': '1'})
    if probe.returncode == 0:
        return ''
    missing = sorted(set(_MISSING_LIBRARY.findall(probe.stderr)))
    if missing:
        packages = ' '.join(sorted({re.sub(r'\.so\.?', '', name) for name in missing}))
        return (f'Qt cannot load its window system plugin: missing {", ".join(missing)} (on Debian/Ubuntu: '
                f'sudo apt install {packages})')
    last = [line for line in probe.stderr.splitlines() if line.strip()][-1:] or ['no message']
    return f'Qt cannot open a window (exit code {probe.returncode}): {last[0]}'
