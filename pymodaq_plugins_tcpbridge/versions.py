"""The PyMoDAQ releases the plugins are tested with, and the one line that tells a user of another.

Tested: 5.3.8, the release CI runs every test with. Measured outside it (December 2026), as pip
installs them (each with the newest pymodaq_gui/_data/_utils, which their requirements allow):
5.3.2 fails 18 of 256 plugin and application tests (its dashboard passes ``dashboard=`` to
pymodaq_gui 5.3.8's ExperimentManager, which refuses it, and the plugins are not listed);
5.3.0 and 5.3.1 lack PyMoDAQ's plugin test harness; 5.2.12 lacks the headless dashboard
(``create_load_dashboard(show_dashboard=...)``). Standard library only.
"""
from __future__ import annotations

import logging
import re
import sys
from importlib import metadata
from typing import Optional, Tuple

#: the oldest PyMoDAQ the plugins are tested with, and the first release above the tested ones
OLDEST_TESTED: Tuple[int, ...] = (5, 3, 8)
FIRST_UNTESTED: Tuple[int, ...] = (5, 4)

log = logging.getLogger(__name__)


def release(version: str) -> Tuple[int, ...]:
    """``'5.3.8'`` -> ``(5, 3, 8)``; pre-release and local tags are ignored (``'5.4.0rc1'`` -> 5.4.0).

    Raises:
        ValueError: ``version`` does not start with a number.
    """
    numbers = re.match(r'\d+(?:\.\d+)*', version)
    if numbers is None:
        raise ValueError(f'not a version: {version!r}')
    return tuple(int(n) for n in numbers.group().split('.'))


def unsupported_message(version: str) -> Optional[str]:
    """One line for a PyMoDAQ ``version`` outside the tested range, None within it."""
    found = release(version)
    tested = f'tested: {".".join(map(str, OLDEST_TESTED))} to {FIRST_UNTESTED[0]}.{FIRST_UNTESTED[1] - 1}.x'
    if found < OLDEST_TESTED:
        return (f'pymodaq_plugins_tcpbridge: PyMoDAQ {version} is not supported ({tested}); '
                'upgrade PyMoDAQ: python -m pip install "pymodaq>=5.3.8"')
    if found >= FIRST_UNTESTED:
        return f'pymodaq_plugins_tcpbridge: PyMoDAQ {version} is untested ({tested}); report what fails'
    return None


def warn_if_unsupported(logger: logging.Logger = log) -> None:
    """Write :func:`unsupported_message` for the installed PyMoDAQ to stderr (the terminal that started
    the dashboard) and to ``logger`` as a warning (PyMoDAQ's loggers write only to its log file);
    nothing within the tested range, or without PyMoDAQ."""
    try:
        version = metadata.version('pymodaq')
    except metadata.PackageNotFoundError:
        return
    message = unsupported_message(version)
    if message:
        print(message, file=sys.stderr)
        logger.warning(message)
