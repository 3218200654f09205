"""A camera-like remote detector: 16-bit frames with an exposure setting PyMoDAQ can change.

Run it on the instrument PC, against a DAQ2D/TCPServer plugin:

    python camera_grabber.py --host <PC running PyMoDAQ> --port 6341
"""
import argparse
import logging

import numpy as np

from tcpbridge import GrabberClient


class Camera(GrabberClient):
    """Replace ``grab`` with the calls to your camera's SDK."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port, dialect='legacy', settings=[
            {'name': 'exposure', 'title': 'Exposure (ms):', 'type': 'float', 'value': 10.0, 'min': 0.1},
            {'name': 'gain', 'title': 'Gain:', 'type': 'list', 'value': 'low', 'limits': ['low', 'high']}])
        self.rng = np.random.default_rng()

    def grab(self, dim: str):
        mean = self.setting('exposure') * (10 if self.setting('gain') == 'high' else 1)
        return [self.rng.poisson(mean, (480, 640)).astype(np.uint16)]   # one channel, shape (rows, cols)

    def on_setting_changed(self, path, value) -> None:
        logging.info('PyMoDAQ set %s to %r', '/'.join(path), value)   # e.g. sdk.set_exposure(value)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6341)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    try:
        Camera(args.host, args.port).run()       # connects, reconnects, until Ctrl+C
    except KeyboardInterrupt:
        pass
