"""The main job's check of the demo signal follows from the noise and the step: it passes for any
number of points, range and detector size where the demo peak can be located, and fails when the
peak is not where the demo puts it (pure numpy, no scan)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pymodaq_plugins_tcpbridge.apps.scan_check import ScanResult, check_demo_peak
from pymodaq_plugins_tcpbridge.apps.scan_options import ScanError, ScanOptions


def synthetic(options: ScanOptions, samples: int, seed: int, shift: float = 0.0) -> ScanResult:
    """What the demo detector gives: a gaussian of the stage position(s) times a frame pattern
    (its sum: ``samples / 3``), plus noise of rms ``options.noise`` per value, summed per point."""
    rng = np.random.default_rng(seed)
    axis = np.linspace(options.start, options.stop, options.points)
    axes = [axis] * (2 if options.scan == '2D' else 1)
    response = np.ones([options.points] * len(axes))
    for index, values in enumerate(axes):
        shape = [1] * len(axes)
        shape[index] = -1
        g = np.exp(-0.5 * ((values - options.peak_at - shift) / options.peak_width) ** 2)
        response = response * g.reshape(shape)
    noise = options.noise * np.sqrt(samples) * rng.standard_normal(response.shape)
    signal = response * samples / 3 + noise
    return ScanResult(Path('x.h5'), signal.size, axes, signal, (*signal.shape, samples), 0.0)


CASES = [(points, start, stop, samples, scan) for points in (4, 5, 11, 21, 41, 101)
         for start, stop in ((0.0, 10.0), (3.0, 7.0), (10.0, 0.0), (4.9, 5.3))
         for samples in (1, 256, 64 * 64) for scan in ('1D', '2D') if scan == '1D' or points <= 21]


@pytest.mark.parametrize('points,start,stop,samples,scan', CASES)
def test_the_check_passes_wherever_the_peak_can_be_located(points, start, stop, samples, scan) -> None:
    options = ScanOptions(points=points, start=start, stop=stop, scan=scan, noise=0.01)
    for seed in range(8):
        line = check_demo_peak(synthetic(options, samples, seed), options, samples)
        assert line.startswith('fitted peak at'), line


@pytest.mark.parametrize('points', [11, 41])
def test_the_check_fails_when_the_peak_is_elsewhere(points: int) -> None:
    options = ScanOptions(points=points, noise=0.01)
    step = 10 / (points - 1)
    with pytest.raises(ScanError, match='the fitted peak is at'):
        check_demo_peak(synthetic(options, 256, 0, shift=step), options, 256)


def test_a_scan_that_cannot_locate_the_peak_says_so() -> None:
    for options in (ScanOptions(points=3), ScanOptions(start=6, stop=10)):
        assert check_demo_peak(synthetic(options, 1, 0), options, 1).startswith('peak position not checked')
