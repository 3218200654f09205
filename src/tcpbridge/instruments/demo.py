"""Demo instruments: a simulated detector and a simulated stage, as ready-made clients.

The detector's signal follows the stage: a gaussian of the stage position (centre ``peak_at``,
width ``peak_width``) sets the amplitude of a gaussian line (1D), spot (2D) or blob (ND).  The stage
writes its position to a small file (``position_file``) that the detector reads at every grab, so a
scan of the stage shows a peak at ``peak_at``.  With ``pattern=True`` the detector sends a
deterministic counter pattern instead (exact values for tests).
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..net.actuator import ActuatorClient
from ..net.grabber import GrabberClient
from ..protocol.data import Axis, DataToExport, DataWithAxes
from ..protocol.dialects import Dialect

log = logging.getLogger('tcpbridge.demo')

#: frames of at least this many values are pooled (noise from a few precomputed fields)
POOLED_FRAME_VALUES = 1 << 16
#: precomputed noise fields of a pooled frame, and amplitudes whose frames are kept
NOISE_FIELDS = 4
POOLED_AMPLITUDES = 2
DEFAULT_SHAPES = {'0D': (1,), '1D': (256,), '2D': (128, 160), 'ND': (8, 16, 16)}


def parse_shape(text: str) -> Tuple[int, ...]:
    """``'2048x2048'`` -> (2048, 2048).

    Raises:
        ValueError: not positive integers separated by 'x'.
    """
    try:
        shape = tuple(int(part) for part in text.lower().split('x'))
    except ValueError:
        raise ValueError(f'shape {text!r} is not like 2048x2048') from None
    if not shape or any(n < 1 for n in shape):
        raise ValueError(f'shape {text!r} must have positive dimensions')
    return shape


def read_position(path: Path) -> float:
    """Stage position shared through ``path`` (0.0 if there is no file yet)."""
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return 0.0


def write_position(path: Optional[Path], position: float) -> None:
    """Atomically write ``position`` to ``path`` (readers never see a partial file)."""
    if path is None:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.position')
    with os.fdopen(fd, 'w') as stream:
        stream.write(repr(float(position)))
    os.replace(tmp, path)


class SimulatedDetector(GrabberClient):
    """A gaussian detector (0D value, 1D line, 2D spot, ND blob) with modest noise, whose amplitude
    follows the demo stage(s): full amplitude when every stage is at ``peak_at``, or when there is
    no stage.

    Args:
        dim: '0D', '1D', '2D' or 'ND'.
        shape: data shape (default per dim, see :data:`DEFAULT_SHAPES`).
        dtype: numpy dtype of the data (integers are scaled to their range).
        pattern: send a deterministic counter pattern instead of the gaussian.
        push_rate: if > 0, push data unsolicited at this rate (Hz) while connected.
        position_files: files where demo stages write their positions (one per scanned axis).
        peak_at / peak_width: centre and width of the response to each stage position (stage units).
        seed: random seed of the noise.
        Others: see :class:`~tcpbridge.net.client.BridgeClient`.
    """

    def __init__(self, host: str = '127.0.0.1', port: int = 6341, *, dim: str = '1D',
                 shape: Optional[Sequence[int]] = None, dtype: str = 'float64', pattern: bool = False,
                 push_rate: float = 0.0, position_files: Sequence[Union[str, Path]] = (),
                 peak_at: float = 5.0, peak_width: float = 1.5, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        settings = [
            {'name': 'exposure', 'title': 'Exposure (ms):', 'type': 'float', 'value': 0.0, 'min': 0.0},
            {'name': 'amplitude', 'title': 'Amplitude:', 'type': 'float', 'value': 1.0},
            {'name': 'noise', 'title': 'Noise (rms):', 'type': 'float', 'value': 0.0 if pattern else 0.01},
            {'name': 'peak_at', 'title': 'Peak at:', 'type': 'float', 'value': float(peak_at)},
            {'name': 'peak_width', 'title': 'Peak width:', 'type': 'float', 'value': float(peak_width)},
            {'name': 'mode', 'title': 'Mode:', 'type': 'list', 'value': 'pattern' if pattern else 'gaussian',
             'limits': ['gaussian', 'pattern']},
        ]
        super().__init__(host, port, settings=settings, **kwargs)
        if dim not in DEFAULT_SHAPES:
            raise ValueError(f'dim must be one of {list(DEFAULT_SHAPES)}, got {dim!r}')
        self.dim = dim
        self.shape = tuple(shape) if shape else DEFAULT_SHAPES[dim]
        self.dtype = np.dtype(dtype)
        self.push_rate = push_rate
        self.position_files = [Path(p) for p in position_files]
        self.frames = 0
        self._rng = np.random.default_rng(seed)
        self._pusher: Optional[threading.Thread] = None
        self._peak_shape: Optional[np.ndarray] = None
        self._noise_fields: List[np.ndarray] = []
        self._pool: Dict[Tuple[float, float], List[Optional[np.ndarray]]] = {}

    def response(self, positions: Sequence[float]) -> float:
        """Amplitude of the signal for stage ``positions``: a gaussian centred on ``peak_at`` in each."""
        return self.setting('amplitude') * math.prod(
            math.exp(-0.5 * ((p - self.setting('peak_at')) / self.setting('peak_width')) ** 2) for p in positions)

    def frame(self) -> np.ndarray:
        """One frame of :attr:`shape` and :attr:`dtype` (read-only: frames may be reused)."""
        self.frames += 1
        if self.setting('mode') == 'pattern':
            counter = np.arange(math.prod(self.shape), dtype=np.int64).reshape(self.shape) + self.frames
            if self.dtype.kind in 'iu':
                counter %= int(min(np.iinfo(self.dtype).max, 1 << 31)) + 1
            return counter.astype(self.dtype)
        # without a demo stage the spot shows at full amplitude (as at the peak of a scan)
        positions = [read_position(path) for path in self.position_files] or [self.setting('peak_at')]
        amplitude, noise = self.response(positions), self.setting('noise')
        if math.prod(self.shape) < POOLED_FRAME_VALUES:
            return self._render(amplitude, noise * self._rng.standard_normal(self.shape))
        # a large frame: its noise is one of a few precomputed fields, and the frames of the current
        # amplitude are kept, so that a camera streams as fast as the link (computing one 2048x2048
        # frame costs ~60 ms)
        key = (round(amplitude, 9), noise)
        if key not in self._pool:
            while len(self._pool) >= POOLED_AMPLITUDES:
                self._pool.pop(next(iter(self._pool)))
            self._pool[key] = [None] * NOISE_FIELDS
        frames = self._pool[key]
        index = self.frames % NOISE_FIELDS
        frame = frames[index]
        if frame is None:
            frame = frames[index] = self._render(amplitude, noise * self._noise_field(index))
            frame.flags.writeable = False
        return frame

    @property
    def _peak(self) -> np.ndarray:
        """The spot (or line, or value) of amplitude 1, computed once."""
        if self._peak_shape is None:
            if len(self.shape) > 1 or self.shape[0] > 1:
                grid = np.meshgrid(*[np.linspace(-1, 1, n, dtype=np.float32) for n in self.shape], indexing='ij')
                self._peak_shape = np.exp(-sum(g ** 2 for g in grid) / np.float32(2 * 0.2 ** 2))
            else:
                self._peak_shape = np.ones(self.shape)
        return self._peak_shape

    def _noise_field(self, index: int) -> np.ndarray:
        while len(self._noise_fields) <= index:
            self._noise_fields.append(self._rng.standard_normal(self.shape, dtype=np.float32))
        return self._noise_fields[index]

    def _render(self, amplitude: float, noise: np.ndarray) -> np.ndarray:
        signal = amplitude * self._peak + noise
        if self.dtype.kind in 'iu':
            top = min(np.iinfo(self.dtype).max, 65535)
            return np.clip(signal * (top / 2) + top / 4, 0, top).astype(self.dtype)
        return signal.astype(self.dtype)

    def grab(self, dim: str) -> Union[List[np.ndarray], DataToExport]:
        exposure = self.setting('exposure')
        if exposure > 0:
            self._stopping.wait(exposure / 1000)
        data = self.frame()
        if self.dialect is Dialect.LEGACY:
            return [data]
        dwa = DataWithAxes('simulated', data=[data], class_name='DataFromPlugins', units='V',
                           labels=['signal'], axes=self._axes(), origin='demo',
                           nav_indexes=(0,) if self.dim == 'ND' else (),
                           extra_attributes={'do_plot': True, 'do_save': True})
        return DataToExport('demo', data=[dwa])

    def _axes(self) -> List[Axis]:
        if self.dim == '1D':
            return [Axis('wavelength', 'nm', np.linspace(500.0, 600.0, self.shape[0]), index=0)]
        if self.dim == '2D':
            return [Axis(label, 'µm', np.arange(n) * 0.5, index=i)
                    for i, (label, n) in enumerate(zip(('y', 'x'), self.shape))]
        return []

    def _on_connected(self) -> None:
        if self.push_rate > 0 and (self._pusher is None or not self._pusher.is_alive()):
            self._pusher = threading.Thread(target=self._push_loop, name='tcpbridge-push', daemon=True)
            self._pusher.start()

    def _push_loop(self) -> None:
        period = 1.0 / self.push_rate
        deadline = time.monotonic()
        while self.connected.is_set() and not self._stopping.is_set():
            try:
                self.push(self.grab(self.dim))
            except OSError:
                return
            deadline += period
            self._stopping.wait(max(0.0, deadline - time.monotonic()))


class SimulatedStage(ActuatorClient):
    """A stage that moves at ``speed`` units/s, reports its position while moving, can be stopped,
    and writes its position to ``position_file`` for :class:`SimulatedDetector`.

    Args:
        units: axis units (e.g. 'mm').
        speed: units per second; 0 or less: moves are instantaneous.
        position: initial position.  home: the home position.
        Others: see :class:`~tcpbridge.net.actuator.ActuatorClient`.
    """

    #: time step of the simulated motion and of the position reports, seconds
    STEP = 0.02
    REPORT_EVERY = 0.1

    def __init__(self, host: str = '127.0.0.1', port: int = 6341, *, speed: float = 10.0,
                 position: float = 0.0, home: float = 0.0,
                 position_file: Optional[Union[str, Path]] = None, **kwargs: Any) -> None:
        settings = [{'name': 'speed', 'title': 'Speed (units/s):', 'type': 'float', 'value': float(speed)},
                    {'name': 'home', 'title': 'Home:', 'type': 'float', 'value': float(home)}]
        super().__init__(host, port, settings=settings, **kwargs)
        self.position_file = Path(position_file) if position_file else None
        self._position_value = float(position)
        self._stop_requested = threading.Event()
        write_position(self.position_file, self._position_value)

    def get_position(self) -> float:
        return self._position_value

    def _set(self, position: float) -> None:
        self._position_value = position
        write_position(self.position_file, position)

    def move_abs(self, target: float) -> float:
        self._stop_requested.clear()
        speed = self.setting('speed')
        start, t0, last_report = self._position_value, time.monotonic(), time.monotonic()
        distance = target - start
        duration = abs(distance) / speed if speed > 0 else 0.0
        while not self._stop_requested.is_set():
            elapsed = time.monotonic() - t0
            if elapsed >= duration:
                self._set(target)
                break
            self._set(start + distance * elapsed / duration)
            if time.monotonic() - last_report >= self.REPORT_EVERY:
                last_report = time.monotonic()
                self.report_position()
            self._stop_requested.wait(min(self.STEP, duration - elapsed))
        return self._position_value

    def move_home(self) -> float:
        return self.move_abs(self.setting('home'))

    def stop_motion(self) -> None:
        self._stop_requested.set()

    def moves_are_instant(self) -> bool:
        """At speed 0 (a setting the server may change) a move returns at once."""
        return self.setting('speed') <= 0
