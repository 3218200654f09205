"""A library client whose answers take a scripted time: the instrument of the pairing tests.

``python tests/slow_client.py actuator|grabber --port P [--dialect D] [--delays 1.5,0] [--dead-link S]``

- actuator: the n-th move takes ``delays[n]`` seconds (the last delay for the later ones) and ends at
  its target; ``move_done`` carries it.
- grabber: the n-th grab takes ``delays[n]`` seconds and returns ``[array([n])]`` (n from 1): each data
  set names the grab that made it, so a test sees which request it answers.

It logs to stderr (``-v`` style, the library's own lines), stops on SIGTERM / SIGINT with exit code 0.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import signal
import time
from typing import List, Optional

import numpy as np

from tcpbridge import ActuatorClient, BridgeClient, GrabberClient


class _Delays:
    def __init__(self, delays: List[float]) -> None:
        self._delays = delays
        self._count = itertools.count()

    def next(self) -> tuple:
        """(n from 1, its delay)."""
        n = next(self._count)
        return n + 1, self._delays[min(n, len(self._delays) - 1)]


class SlowStage(ActuatorClient):
    def __init__(self, delays: List[float], **kwargs) -> None:
        super().__init__(units='mm', **kwargs)
        self._delays = _Delays(delays)
        self._at = 0.0

    def get_position(self) -> float:
        return self._at

    def move_abs(self, target: float) -> Optional[float]:
        n, delay = self._delays.next()
        logging.info('move %d to %g: %g s', n, target, delay)
        time.sleep(delay)
        self._at = target
        logging.info('move %d to %g ended', n, target)
        return target


class SlowDetector(GrabberClient):
    def __init__(self, delays: List[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self._delays = _Delays(delays)

    def grab(self, dim: str) -> list:
        n, delay = self._delays.next()
        logging.info('grab %d: %g s', n, delay)
        time.sleep(delay)
        return [np.array([float(n)])]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('role', choices=['actuator', 'grabber'])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--dialect', default='legacy')
    parser.add_argument('--delays', default='0', help='seconds of each answer, comma separated')
    parser.add_argument('--dead-link', type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(message)s')
    delays = [float(d) for d in args.delays.split(',')]
    kwargs = dict(host=args.host, port=args.port, dialect=args.dialect, dead_link_s=args.dead_link, retry_delay=0.2,
                  max_retry_delay=1.0)
    client: BridgeClient = SlowStage(delays, **kwargs) if args.role == 'actuator' else SlowDetector(delays, **kwargs)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: client.interrupt())
    client.run()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
