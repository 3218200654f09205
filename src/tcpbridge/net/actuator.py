"""A remote actuator: :class:`ActuatorClient` moves on ``move_abs`` / ``move_rel`` / ``move_home``,
stops on ``stop_motion``, reports ``move_done`` and positions.  Numpy and the standard library only.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, Union

from ..protocol.data import data_actuator
from ..protocol.dialects import Dialect
from ..protocol.messages import (
    ACTUATOR,
    CheckPosition,
    GetActuatorValue,
    Info,
    Message,
    MoveAbs,
    MoveDone,
    MoveHome,
    MoveRel,
    PositionIs,
    StopMotion,
)
from .client import BridgeClient, log


class ActuatorClient(BridgeClient):
    """A remote actuator: handles ``move_abs``, ``move_rel``, ``move_home``, ``stop_motion`` and the
    position queries (``check_position`` / ``get_actuator_value``), reports ``move_done`` and
    ``position_is``.

    Override :meth:`get_position` and :meth:`move_abs` (and :meth:`stop_motion`, :meth:`move_home`,
    :meth:`move_rel` if the hardware has them), or pass callables.  Moves run in a worker thread,
    so ``stop_motion`` reaches the instrument while it moves; call :meth:`report_position` from a
    move to show intermediate positions.  A move returns its final position (or None: then
    :meth:`get_position` is asked).

    An instrument whose moves return at once (a set point written, nothing to wait for) says so with
    ``instant_moves=True`` or by overriding :meth:`moves_are_instant`: its moves then run in the
    connection thread, which saves handing each one to the worker (60-120 µs per round trip on
    loopback, docs/performance.rst); a ``stop_motion`` is then read only once the move returned.

    Args:
        units: the axis units (a ``units`` setting, read by PyMoDAQ 4.4 servers and ours).
        get_position / move_abs / stop_motion: callables replacing the methods.
        instant_moves: the default of :meth:`moves_are_instant`.
        Others: see :class:`BridgeClient`.
    """

    client_type = ACTUATOR
    root_name = 'move_settings'

    def __init__(self, host: str = '127.0.0.1', port: int = 6341, *, units: str = '',
                 get_position: Optional[Callable[[], float]] = None,
                 move_abs: Optional[Callable[[float], Optional[float]]] = None,
                 stop_motion: Optional[Callable[[], None]] = None, instant_moves: bool = False,
                 name: str = 'actuator', **kwargs: Any) -> None:
        # the units setting PyMoDAQ's own DAQ_Move clients send (docs/protocol.rst §2.1)
        settings = [{'name': 'units', 'title': 'Units:', 'type': 'str', 'value': units}]
        settings += list(kwargs.pop('settings', None) or [])
        super().__init__(host, port, settings=settings, **kwargs)
        self.name = name
        self._get_position = get_position
        self._move_abs = move_abs
        self._stop_motion = stop_motion
        self._instant_moves = instant_moves
        self._mover = ThreadPoolExecutor(max_workers=1, thread_name_prefix='tcpbridge-move')
        self._moves_pending = 0
        self._moves_lock = threading.Lock()

    @property
    def units(self) -> str:
        return str(self.setting('units'))

    # -- to override ------------------------------------------------------------------------------
    def get_position(self) -> float:
        """Current position, in :attr:`units`."""
        if self._get_position is None:
            raise NotImplementedError('override ActuatorClient.get_position or pass get_position=')
        return self._get_position()

    def move_abs(self, target: float) -> Optional[float]:
        """Move to ``target`` (units); blocks until the move ends; returns the final position."""
        if self._move_abs is None:
            raise NotImplementedError('override ActuatorClient.move_abs or pass move_abs=')
        return self._move_abs(target)

    def move_rel(self, step: float) -> Optional[float]:
        """Move by ``step``; default: :meth:`move_abs` from the current position."""
        return self.move_abs(self.get_position() + step)

    def move_home(self) -> Optional[float]:
        """Go home; default: :meth:`move_abs` to 0."""
        return self.move_abs(0.0)

    def stop_motion(self) -> None:
        """Stop the running move now (called from the connection thread, during a move)."""
        if self._stop_motion is not None:
            self._stop_motion()

    def moves_are_instant(self) -> bool:
        """True if a move returns at once, so it may run in the connection thread (asked before each
        move; default: the ``instant_moves`` argument)."""
        return self._instant_moves

    # -- reporting --------------------------------------------------------------------------------
    def report_position(self, position: Optional[float] = None) -> None:
        """Send ``position_is`` (e.g. while moving); ``None``: ask :meth:`get_position`."""
        if self.connected.is_set():
            try:
                self.send(PositionIs(self._position(position)))
            except OSError as error:
                log.debug('position not reported: %s', error)

    def _position(self, value: Optional[float] = None) -> Any:
        value = self.get_position() if value is None else value
        if self.dialect is Dialect.LEGACY:
            return value
        return data_actuator(value, self.units, self.name)

    def handle(self, message: Message) -> None:
        if isinstance(message, (CheckPosition, GetActuatorValue)):
            self.send(PositionIs(self._position()))
        elif isinstance(message, (MoveAbs, MoveRel)):
            self._warn_units(message)
            value = message.value
            if isinstance(value, complex):  # a legacy c8/c16 scalar: no stage moves to that
                self._safe_send(Info('error', f'{message.command} to the complex position {value} ignored'))
                return
            self._start_move(self.move_abs if isinstance(message, MoveAbs) else self.move_rel, float(value))
        elif isinstance(message, MoveHome):
            self._start_move(self.move_home)
        elif isinstance(message, StopMotion):
            with self._moves_lock:
                moving = self._moves_pending > 0
            if moving:
                self.stop_motion()
            else:  # nothing to stop: still tell where we are, so the server's stop ends
                self.send(MoveDone(self._position()))
        else:
            super().handle(message)

    def _warn_units(self, message: Union[MoveAbs, MoveRel]) -> None:
        if message.units and self.units and message.units != self.units:
            log.warning('%s in %r but this axis is in %r: taken as %r', message.command, message.units,
                        self.units, self.units)

    def _start_move(self, move: Callable[..., Optional[float]], *args: float) -> None:
        """Run the move in the worker, or here if it is instant and no other move is pending (moves
        run one after the other, in the order received).  Its ``move_done`` goes to the connection
        that asked for it only: a move still queued when that connection ends is dropped, one running
        then ends without ``move_done`` (the next server would take it for the answer to its own
        request; docs/protocol.rst §8)."""
        connection = self._connection
        try:
            instant = self.moves_are_instant()
        except Exception:  # a faulty override must not end the connection: the worker is always safe
            log.exception('moves_are_instant failed: the move runs in the worker')
            instant = False
        with self._moves_lock:
            self._moves_pending += 1
            here = instant and self._moves_pending == 1
        if here:
            self._run_move(connection, move, *args)
        else:
            self._mover.submit(self._run_move, connection, move, *args)

    def _run_move(self, connection: int, move: Callable[..., Optional[float]], *args: float) -> None:
        try:
            if connection != self._connection or not self.connected.is_set():
                log.info('%s%s dropped: the connection that asked for it has ended', move.__name__, args)
                return
            try:
                final = move(*args)
            except Exception as error:
                log.exception('%s%s failed', move.__name__, args)
                final = None
                self._safe_send(Info('error', f'{move.__name__} failed: {error}'), connection)
        finally:
            with self._moves_lock:
                self._moves_pending -= 1
        try:
            position = self._position(final)
        except Exception:
            log.exception('get_position failed after a move')
            return
        self._safe_send(MoveDone(position), connection)

    def _safe_send(self, message: Message, connection: Optional[int] = None) -> None:
        try:
            self.send(message, connection)
        except OSError as error:
            log.warning('%s not sent: %s', type(message).__name__, error)

    def stop(self) -> None:
        """Stop any move, send ``Quit`` and close (thread-safe)."""
        with self._moves_lock:
            moving = self._moves_pending > 0
        if moving:
            self.stop_motion()
        super().stop()
