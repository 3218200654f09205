"""``tcpbridge module`` for a DAQ_Move: the module as an ``ACTUATOR`` client (see :mod:`.module_host`)."""
from __future__ import annotations

import logging
from typing import Any, Optional

from tcpbridge import ActuatorClient
from tcpbridge.wire import SetInfo

from .module_host import Endpoint, ModuleHost, Waiter

log = logging.getLogger('tcpbridge.module')


class _HostedStage(ActuatorClient):
    """The ACTUATOR client of a hosted DAQ_Move: every call goes to :class:`ActuatorHost`."""

    def __init__(self, host: ActuatorHost, endpoint: Endpoint) -> None:
        self.module_host = host
        super().__init__(endpoint.host, endpoint.port, listen=endpoint.listen, tls=endpoint.tls,
                         secret=endpoint.secret, dialect=endpoint.dialect, dead_link_s=endpoint.dead_link_s,
                         name=host.module.title)

    @property
    def units(self) -> str:
        return self.module_host.units

    def link_changed(self, state: str, detail: str) -> None:
        self.module_host.link_changed(state, detail)

    def get_position(self) -> float:
        return self.module_host.position

    def move_abs(self, target: float) -> Optional[float]:
        return self.module_host.move('abs', target)

    def move_rel(self, step: float) -> Optional[float]:
        return self.module_host.move('rel', step)

    def move_home(self) -> Optional[float]:
        return self.module_host.move('home')

    def stop_motion(self) -> None:
        self.module_host.in_qt(self.module_host.module.stop_motion)

    def settings_xml(self) -> str:
        return self.module_host.settings_xml()

    def apply_set_info(self, message: SetInfo) -> None:
        self.module_host.apply_set_info(message)


class ActuatorHost(ModuleHost):
    """Bridges a DAQ_Move as an ACTUATOR client.

    Positions are floats in the module's units (``actuator_settings/units``, e.g. ``'µm'``), sent as
    scalars (legacy dialect) or DataActuators with those units (pymodaq4).
    """

    hw_settings = 'actuator_settings'
    client: _HostedStage

    def __init__(self, module: Any, endpoint: Endpoint, timeout: float) -> None:
        super().__init__(module, timeout)
        self._position: Optional[float] = None  # until the module reports it
        self._units = str(module.units)
        self._move: Optional[Waiter] = None
        self.client = _HostedStage(self, endpoint)

    @property
    def ready(self) -> bool:
        return self._position is not None

    @property
    def position(self) -> float:
        """The last position the module reported (any thread; after :attr:`ready`)."""
        with self._lock:
            return self._position or 0.0

    @property
    def units(self) -> str:
        with self._lock:
            return self._units

    def move(self, kind: str, value: Optional[float] = None) -> float:
        """Connection thread: make the module move (``'abs'``, ``'rel'`` or ``'home'``) and wait
        for its ``move_done``; returns the final position.

        Raises:
            HostError: no ``move_done`` within the timeout.
        """
        waiter = Waiter()
        with self._lock:
            self._move = waiter
        self.in_qt(lambda: self._start_move(kind, value))
        what = f'move_{kind}' + ('' if value is None else f' {value:g} {self.units}')
        return float(waiter.wait(self.timeout, what))

    def _start_move(self, kind: str, value: Optional[float]) -> None:
        log.info('move_%s%s', kind, '' if value is None else f' {value:g} {self.units}')
        if kind == 'abs':
            self.module.move_abs(value)
        elif kind == 'rel':
            self.module.move_rel(value)
        else:
            self.module.move_home()

    def _connect_signals(self) -> None:
        self.module.move_done_signal.connect(self._on_move_done)
        self.module.current_value_signal.connect(self._on_value)
        self.module.get_actuator_value()  # the position now: makes the host ready

    def _on_value(self, value: Any) -> None:
        """Qt thread: a position reported by the module (while moving, or polled)."""
        self._report(self._store(value))

    def _report(self, position: float) -> None:
        """``position_is`` from the sender thread (when connected)."""
        if self.client.connected.is_set():
            self._submit(self.client.report_position, position)

    def _on_move_done(self, value: Any) -> None:
        position = self._store(value)
        with self._lock:
            waiter, self._move = self._move, None
        log.info('move done at %g %s', position, self.units)
        if waiter is not None:
            waiter.resolve(position)
        else:  # a move made here (the module's window): show where the stage is now
            self._report(position)

    def _store(self, value: Any) -> float:
        position = float(value.value())
        with self._lock:
            self._position = position
            self._units = str(self.module.units)
        return position

    def _abandon_waits(self, reason: str) -> None:
        with self._lock:
            waiter, self._move = self._move, None
        if waiter is not None:
            waiter.resolve(error=reason)
