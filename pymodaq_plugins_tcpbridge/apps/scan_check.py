"""The checks of ``tcpbridge scan``: the HDF5 file against what the detector plugin received, the
demo's peak where the demo puts it, and the record of a scan that stopped early."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Tuple

import numpy as np

from .scan_options import ScanError, ScanOptions

if TYPE_CHECKING:
    from .scan import Session


@dataclass
class ScanResult:
    """What the file holds, after checking it."""

    path: Path
    points: int
    positions: List[np.ndarray]
    signal: np.ndarray          # per scan point: the detector data summed over its own dimensions
    data_shape: tuple
    seconds_per_point: float

    @property
    def samples_per_point(self) -> int:
        """Values the detector gives at each scan point (1 for 0D data)."""
        return int(np.prod(self.data_shape[len(self.positions):]))


def check_file(path: Path, session: Session, received: list, seconds: float, scan: int = 0) -> ScanResult:
    """Compare scan number ``scan`` of the HDF5 file (``/RawData/ScanNNN``) with what the detector
    plugin emitted during it: ``received``, the data sets in order; ``seconds`` the scan's duration.

    Raises:
        ScanError: a point is missing, a position is wrong, or saved data differ from received data.
    """
    from pymodaq_data.h5modules.data_saving import DataLoader
    options = session.options
    n_axes = 2 if options.scan == '2D' else 1
    total = options.points ** n_axes
    if len(received) != total:
        raise ScanError(f'the detector plugin emitted {len(received)} data sets, expected {total}')
    loader = DataLoader(path)
    try:
        node = f'/RawData/Scan{scan:03d}/Detector000/Data{options.dim}/CH00/Data00'
        try:
            saved = loader.load_data(node)
        except Exception as error:
            raise ScanError(f'{path} has no {node}: {error}') from error
        nav_shape = tuple(saved.shape[i] for i in saved.nav_indexes)
        if nav_shape != (options.points,) * n_axes:
            raise ScanError(f'the file holds {nav_shape} scan points, expected {(options.points,) * n_axes}')
        expected_positions = np.linspace(options.start, options.stop, options.points)
        positions = [axis.get_data() for axis in saved.get_nav_axes()]
        for values in positions:
            if not np.allclose(values, expected_positions):
                raise ScanError(f'saved actuator positions {values} differ from {expected_positions}')
        scanner = session.daq_scan.scanner
        array = saved.data[0]
        for step, dte in enumerate(received):
            index = tuple(scanner.get_indexes_from_scan_index(step)) if n_axes == 2 else (step,)
            sent = dte[0].data[0]
            if not np.array_equal(np.squeeze(array[index]), np.squeeze(sent)):
                raise ScanError(f'scan point {step} {index}: the file differs from what the client sent')
        signal_axes = tuple(range(n_axes, array.ndim))
        signal = array.sum(axis=signal_axes) if signal_axes else array
        return ScanResult(path, total, positions, np.asarray(signal, dtype=float),
                          tuple(saved.shape), seconds / total)
    finally:
        loader.close_file()


@dataclass
class PeakFit:
    """The demo's model fitted to a scanned signal: ``amplitude * g(x - centre) + offset`` per
    scanned axis, with the interval of centres the noise cannot rule out (per axis, mm)."""

    centre: List[float]
    low: List[float]
    high: List[float]

    def curve(self, positions: np.ndarray, signal: np.ndarray, width: float,
              samples: int = 400) -> Tuple[np.ndarray, np.ndarray]:
        """The fitted gaussian of a 1D scan on ``samples`` positions over the scanned range: x (mm) and
        y, amplitude and offset refitted by least squares at the fitted centre."""
        positions, signal = np.asarray(positions, dtype=float), np.asarray(signal, dtype=float)
        g = np.exp(-0.5 * ((positions - self.centre[0]) / width) ** 2)
        (amplitude, offset), *_ = np.linalg.lstsq(np.stack([g, np.ones_like(g)], axis=1), signal, rcond=None)
        x = np.linspace(positions.min(), positions.max(), samples)
        return x, amplitude * np.exp(-0.5 * ((x - self.centre[0]) / width) ** 2) + offset


#: the interval holds the centres within this many standard deviations (profile likelihood)
PEAK_SIGMAS = 5.0


def fit_demo_peak(result: ScanResult, options: ScanOptions, samples: int) -> PeakFit:
    """Least-squares fit of the demo detector's response to the scanned signal.

    The demo's signal at stage position(s) x is ``A * prod(exp(-(x - c)**2 / (2 w**2))) * P + noise``
    (w: ``options.peak_width``; P: the frame pattern); summed over a frame of ``samples`` values, the
    noise has rms ``options.noise * sqrt(samples)``.  For each candidate centre c on a grid of 1/200
    of the scan step, amplitude and offset come from linear least squares; the fitted centre has
    the least squared residual, and the interval holds every c whose residual exceeds it by at most
    ``PEAK_SIGMAS**2`` noise variances (a profile-likelihood interval: valid where a linearised
    uncertainty is not, e.g. a range too narrow to show the peak's curvature).  A 2D scan fits each
    axis on the signal summed over the other.
    """
    width = options.peak_width
    signal = np.asarray(result.signal, dtype=float)
    noise_variance = options.noise ** 2 * samples
    fit = PeakFit([], [], [])
    for index, positions in enumerate(result.positions):
        axis = np.asarray(positions, dtype=float)
        others = tuple(i for i in range(signal.ndim) if i != index)
        profile = signal.sum(axis=others) if others else signal
        summed = signal.size // profile.size
        step = abs(axis[1] - axis[0])
        candidates = np.arange(axis.min() - step, axis.max() + step, step / 200)
        g = np.exp(-0.5 * ((axis[None, :] - candidates[:, None]) / width) ** 2)  # (candidates, points)
        # amplitude and offset at each candidate centre: the 2x2 normal equations, solved in closed form
        n, sg, sgg = axis.size, g.sum(axis=1), (g * g).sum(axis=1)
        sy, sgy = profile.sum(), g @ profile
        det = np.where(sgg * n - sg ** 2 > 0, sgg * n - sg ** 2, np.inf)
        amplitude = (n * sgy - sg * sy) / det
        offset = (sgg * sy - sg * sgy) / det
        residuals = ((amplitude[:, None] * g + offset[:, None] - profile[None, :]) ** 2).sum(axis=1)
        k = int(np.argmin(residuals))
        plausible = candidates[residuals <= residuals[k] + PEAK_SIGMAS ** 2 * noise_variance * summed]
        fit.centre.append(float(candidates[k]))
        fit.low.append(float(plausible.min()) - step / 200)
        fit.high.append(float(plausible.max()) + step / 200)
    return fit


def check_demo_peak(result: ScanResult, options: ScanOptions, samples: int) -> str:
    """With the demo clients the signal is the demo's gaussian, centred where the demo puts it.

    Returns the line to print; a scan that cannot tell (fewer than 4 points, or the peak outside
    the scanned range) says so instead of checking.

    Raises:
        ScanError: ``options.peak_at`` is outside the interval of centres the noise allows.
    """
    low, high = sorted((options.start, options.stop))
    if options.points < 4 or not low <= options.peak_at <= high:
        return (f'peak position not checked: {options.points} points from {options.start:g} to '
                f'{options.stop:g} mm cannot locate a peak at {options.peak_at:g} mm')
    fit = fit_demo_peak(result, options, samples)
    for centre, low, high in zip(fit.centre, fit.low, fit.high):
        if not low <= options.peak_at <= high:
            raise ScanError(f'the fitted peak is at {centre:.3f} mm; with the demo noise it may lie between '
                            f'{low:.3f} and {high:.3f} mm, but the demo puts it at {options.peak_at:g} mm')
    where = ', '.join(f'{c:.3f} mm ({PEAK_SIGMAS:g}-sigma interval {lo:.3f} to {hi:.3f})'
                      for c, lo, hi in zip(fit.centre, fit.low, fit.high))
    return f'fitted peak at {where}; the demo puts it at {options.peak_at:g} mm'


def summary(result: ScanResult) -> str:
    return (f'file: {result.path}\npoints: {result.points}\n'
            f'detector data saved as {result.data_shape} (scan shape | data shape)\n'
            f'{result.seconds_per_point * 1000:.1f} ms per point')


def mark_partial(path: Path, valid_points: int, total: int, failure: str) -> None:
    """Record in the root attributes of the scan's HDF5 file that only its first ``valid_points`` of
    ``total`` points were acquired, and why (``tcpbridge_valid_points``, ``tcpbridge_total_points``,
    ``tcpbridge_failure``), encoded as PyMoDAQ encodes its own attributes (JSON), so that its loader and
    H5Browser show them.  Call it once PyMoDAQ has closed the file."""
    import h5py
    from pymodaq_utils.utils import JsonConverter
    with h5py.File(path, 'a') as file:
        for name, value in (('tcpbridge_valid_points', valid_points), ('tcpbridge_total_points', total),
                            ('tcpbridge_failure', failure)):
            file.attrs[name] = JsonConverter.object2json(value)
