"""A streaming remote detector: pushes spectra at its own pace, without being asked, with axes and
units (pymodaq4 dialect); PyMoDAQ shows them live and can still grab on demand.

    python streaming_detector.py --host <PC running PyMoDAQ> --port 6341 --rate 5
"""
import argparse
import time

import numpy as np

from tcpbridge import GrabberClient
from tcpbridge.wire import Axis, DataToExport, DataWithAxes

WAVELENGTHS = np.linspace(400.0, 800.0, 1024)


def spectrum() -> DataToExport:
    counts = 1000 * np.exp(-0.5 * ((WAVELENGTHS - 600.0 - 20 * np.sin(time.time())) / 15.0) ** 2)
    dwa = DataWithAxes('spectrum', data=[counts + np.random.normal(0, 5, counts.shape)], units='counts',
                       labels=['intensity'], axes=[Axis('wavelength', 'nm', WAVELENGTHS, index=0)],
                       class_name='DataFromPlugins')
    return DataToExport('spectrometer', data=[dwa])


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6341)
    parser.add_argument('--rate', type=float, default=5.0, help='spectra per second')
    args = parser.parse_args()
    detector = GrabberClient(args.host, args.port, dialect='pymodaq4', grab=lambda dim: spectrum())
    detector.start()
    try:
        while True:
            if detector.connected.wait(1.0):
                try:
                    detector.push(spectrum())      # unsolicited Done + data
                except OSError:
                    pass                           # lost: the client reconnects by itself
                time.sleep(1.0 / args.rate)
    except KeyboardInterrupt:
        detector.stop()
