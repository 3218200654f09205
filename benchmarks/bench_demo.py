"""The demo camera as a user runs it: ``tcpbridge grabber --dim 2D --shape 2048x2048 --dtype uint16``
(a separate process) into the real DAQ_2DViewer_TCPServer plugin, frames/s from ``grab_data`` to
``dte_signal``, as snaps (each frame asked when the previous one arrived) and as a live grab (PyMoDAQ's
Grab); side by side in each repeat, a bare loopback socket moving the same 8 MiB.

    python benchmarks/bench_demo.py [--frames 100] [--repeats 5]

Prints a JSON report: median [min-max] over interleaved repeats, and the ratio to the bare socket.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, str(Path(__file__).parent))

from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-bench-')))

from bench_core import bare, socket_pair  # noqa: E402
from bench_plugins import ChainedGrabs, run_until  # noqa: E402
from pymodaq.utils.plugin_testing import make_detector  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402
from report import row  # noqa: E402

from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer import (  # noqa: E402
    DAQ_2DViewer_TCPServer,
)
from tcpbridge.commands import ClientProcess  # noqa: E402

#: measured side by side, in a new random order in each repeat
KINDS = ('bare', 'snaps', 'live')


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    plugin = make_detector(DAQ_2DViewer_TCPServer, port_id=0)
    client = ClientProcess(['grabber', '--port', str(plugin.bridge.address[1]), '--dim', '2D', '--shape',
                            '2048x2048', '--dtype', 'uint16'])
    try:
        run_until(lambda: plugin.client_connected, 30)
        grabs = ChainedGrabs(plugin)
        grabs.seconds(8)  # warm-up: the demo computes its first frames
        rates: Dict[str, List[float]] = {kind: [] for kind in KINDS}
        order = list(KINDS)
        for _ in range(args.repeats):
            random.shuffle(order)
            for kind in order:
                if kind == 'bare':
                    rates[kind].append(_bare_frames_per_second(args.frames))
                else:
                    rates[kind].append(args.frames / grabs.seconds(args.frames, live=kind == 'live'))
    finally:
        client.stop()
        plugin.close()

    case = f'demo camera process (tcpbridge grabber --dim 2D --shape 2048x2048 --dtype uint16) -> ' \
           f'DAQ_2DViewer_TCPServer, {args.repeats}x{args.frames} frames'
    rows = [row('bare loopback socket, 8 MiB per frame', case, 'frames/s', rates['bare'])]
    for kind, system in (('snaps', 'tcpbridge demo camera, snaps'), ('live', 'tcpbridge demo camera, live grab')):
        ratios = [r / bare_rate for r, bare_rate in zip(rates[kind], rates['bare'])]
        rows.append(row(system, case, 'frames/s', rates[kind], ratios, 'bare loopback socket'))
    return {'rows': rows}

def _bare_frames_per_second(frames: int) -> float:
    """A bare loopback socket moving ``frames`` times the 8 MiB of one frame (a fresh receive
    buffer per frame, as a receiver that hands each frame on must have)."""
    a, b = socket_pair()
    try:
        return frames / sum(bare(a, b, fresh=True) for _ in range(frames))
    finally:
        a.close()
        b.close()


if __name__ == '__main__':
    print(json.dumps(main(), indent=2))
