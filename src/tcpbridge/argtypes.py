"""argparse types of the ``tcpbridge`` commands: each checks its value when the command line is read,
so a bad option ends the command before anything starts, in one line with the usage and exit code 2
(argparse's own handling of :class:`argparse.ArgumentTypeError`)."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable, Optional, Tuple

from .net.transport import parse_endpoint

#: the largest number of seconds a command accepts for a wait or a timeout (one day)
MAX_SECONDS = 86400.0


def port(text: str) -> int:
    """A TCP port to connect to: a whole number in 1..65535.

    Raises:
        argparse.ArgumentTypeError: anything else (0, which asks the OS for a free port, is not a port a
            client can connect to nor one a user can tell a client).
    """
    return _port_in(text, 1, 'a TCP port (1 to 65535)')


def listen_port(text: str) -> int:
    """A TCP port to listen on: a whole number in 0..65535, 0 asking the OS for a free port (the
    command then prints the one it got).

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    return _port_in(text, 0, 'a TCP port to listen on (0 to 65535, 0: any free port)')


def _port_in(text: str, lowest: int, what: str) -> int:
    if not text.strip().isdigit() or not lowest <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f'{text!r} is not {what}')
    return int(text)


def endpoint(text: str) -> Tuple[str, int]:
    """``[ADDR:]PORT`` / ``HOST:PORT`` (IPv6 in brackets: ``[::1]:6341``) as ``(host, port)``; see
    :func:`tcpbridge.net.transport.parse_endpoint`.

    Raises:
        argparse.ArgumentTypeError: no port in 0..65535.
    """
    try:
        return parse_endpoint(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def connect_endpoint(text: str) -> Tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``, on 127.0.0.1) to connect to: :func:`endpoint` without port 0.

    Raises:
        argparse.ArgumentTypeError: no port in 1..65535.
    """
    host, number_ = endpoint(text)
    if number_ == 0:
        raise argparse.ArgumentTypeError(f'{text!r}: port 0 is not a port to connect to (1 to 65535)')
    return host, number_


def existing_file(text: str) -> str:
    """The path of a file that exists (a certificate, a key), as given.

    Raises:
        argparse.ArgumentTypeError: no such file (or a folder).
    """
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f'{text!r}: no such file')
    return text


def number(minimum: Optional[float] = None, maximum: Optional[float] = None, *,
           exclusive_minimum: bool = False, what: str = 'the value') -> Callable[[str], float]:
    """An argparse type of a finite float in ``[minimum, maximum]`` (``(minimum, maximum]`` with
    ``exclusive_minimum``); ``what`` names it in the error (e.g. ``'the speed (units/s)'``).

    The returned callable raises :class:`argparse.ArgumentTypeError` for text that is not a number,
    for NaN and infinities, and for a value out of range.
    """
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
        too_low = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
        if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(
                f'{text!r}: {what} must be {_range(minimum, maximum, exclusive_minimum)}')
        return value
    return parse


def whole(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type of an int ``>= minimum``; ``what`` names it in the error (e.g. ``'the number
    of points'``).

    The returned callable raises :class:`argparse.ArgumentTypeError` for anything else.
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f'{text!r}: {what} must be {minimum} or more')
        return value
    return parse


def _range(minimum: Optional[float], maximum: Optional[float], exclusive_minimum: bool) -> str:
    if minimum is None:
        return 'finite' if maximum is None else f'at most {maximum:g}'
    low = f'above {minimum:g}' if exclusive_minimum else f'{minimum:g} or more'
    return low if maximum is None else f'{low} and at most {maximum:g}'


#: a finite float of any sign (a position, a peak position)
finite = number()
#: seconds of a timeout: above 0, at most a day
timeout_seconds = number(0, MAX_SECONDS, exclusive_minimum=True, what='the time (s)')
#: seconds of a wait that may be 0 (0: none), at most a day
wait_seconds = number(0, MAX_SECONDS, what='the time (s)')
