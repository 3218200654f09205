"""The actuator side of the bridge (DAQ_Move_TCPServer)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Tuple, Union

from pymodaq.control_modules.move_utility_classes import DAQ_Move_base, DataActuatorType, comon_parameters_fun
from pymodaq.control_modules.thread_commands import ThreadStatus
from pymodaq.utils.data import DataActuator
from pymodaq_utils.utils import ThreadCommand
from qtpy.QtCore import QTimer

from tcpbridge import ACTUATOR, Dialect
from tcpbridge.server import ClientInfo, ReplyTimeout
from tcpbridge.wire import CheckPosition, Message, MoveAbs, MoveDone, MoveHome, MoveRel, PositionIs, StopMotion

from .bridge import Delivery, TCPServerPlugin
from .convert import actuator_to_wire, position_to_actuator, units_problem
from .plugin_settings import PYMODAQ5_LIMITS, tcp_parameters, tcp_set_once_groups
from .reconnect import Waiting

#: seconds a client has to answer stop_motion before the move is ended here (PyMoDAQ's clients
#: ignore stop_motion, docs/protocol.rst §4.11)
STOP_REPLY_S = 2.0


class DAQ_Move_TCPServer_base(TCPServerPlugin, DAQ_Move_base):
    """Actuator plugin driving a remote ACTUATOR client over TCP/IP.

    ``move_abs``/``move_rel``/``move_home``/``stop_motion`` are sent to the client; the ``move_done``
    that answers the move ends it (``self.move_done(position)``); any other ``move_done`` (unsolicited,
    or the late one of a move given up at a stop) and every ``position_is`` only update the displayed
    value.  Right after the hello, ``check_position`` is sent: the reply tells the dialect
    (docs/protocol.rst §6).  A move without ``move_done`` within the ``timeout`` setting (s) ends in a
    timeout status and the connection is closed, so that its late ``move_done`` cannot end a later
    move (docs/protocol.rst §8).  A move whose client is lost waits *Reconnect wait* seconds for a
    client, which then gets it again as ``move_abs`` to its absolute target (reconnect.py).
    PyMoDAQ skips position polling for this class (its name contains ``TCPServer``).
    """

    client_type = ACTUATOR
    _controller_units = ''
    _axis_names = ['']
    _epsilons = 0.0  # a move is always sent: the client, not PyMoDAQ, knows when it is there
    data_actuator_type = DataActuatorType.DataActuator
    params = (tcp_parameters() + comon_parameters_fun(axis_names=_axis_names, epsilon=_epsilons)
              + tcp_set_once_groups())
    if TYPE_CHECKING:
        axis_unit: str  # DAQ_Move_base's property (PyMoDAQ ships no type information)

    def ini_attributes(self) -> None:
        self.controller = None
        self._move_request: Optional[int] = None  # the request id of the move awaited
        self._move_sent = ''  # that move's command, as the status names it
        self._move_target: Optional[DataActuator] = None  # its absolute target (axis units); None: home

    def ini_stage(self, controller=None):
        """Start listening for ACTUATOR clients; returns at once (a client may connect later).

        Returns:
            (info, initialized): initialized is False if the address cannot be listened on.
        """
        return self._start_bridge()

    # -- commands -------------------------------------------------------------------------------------
    def get_actuator_value(self) -> DataActuator:
        """Ask the client for its position (``check_position``, answered by every client) and
        return the last known one; the answer updates the display when it comes."""
        if self.client_connected and self._move_request is None and self.bridge is not None:
            self.bridge.send(CheckPosition())
        return self._current_value

    def _send_move(self, message: Message, target: Optional[DataActuator]) -> None:
        """Send a move command, then note its ``target`` (PyMoDAQ's ``target_value``): its setter
        takes ~20 us that the client then spends moving, not waiting.  A move waiting for a client to come
        back is superseded by this one."""
        if self._reconnect is not None:
            self._reconnect.cancel()
        self._move_request = None if self.bridge is None else \
            self.bridge.send(message, expect=(MoveDone,), timeout=float(self.settings['timeout']))
        self._move_sent, self._move_target = message.command, target
        if target is not None:
            self.target_value = target
        if self._move_request is None and not self._wait_for_client(None, *self._replay_of_move()):
            self._status(f'no client connected: {message.command} not sent', error=True)
            self._move_failed()

    def _replay_of_move(self) -> Tuple[str, Callable[[], None]]:
        """What sends the last move again (``move_abs`` to its target, or ``move_home``), and its name."""
        target = self._move_target
        if target is None:
            return MoveHome.command, self.move_home
        return f'{MoveAbs.command} {self._at(target)}', lambda: self.move_abs(target)

    def _at(self, position: DataActuator) -> str:
        return f'{position.value():g} {self.axis_unit}'.strip()

    def move_abs(self, position: Union[float, DataActuator]) -> None:
        """Send ``move_abs`` with the target (bounds and scaling applied, in axis units)."""
        target = self.check_bound(self._as_actuator(position))
        self._send_move(MoveAbs(actuator_to_wire(self.set_position_with_scaling(target), self.axis_unit)), target)

    def move_rel(self, position: Union[float, DataActuator]) -> None:
        """Send ``move_rel`` with the displacement (bounds and scaling applied, in axis units)."""
        position = self._as_actuator(position)
        position = self.check_bound(self.current_value + position) - self.current_value
        target = position + self.current_value
        position = self.set_position_relative_with_scaling(position)
        self._send_move(MoveRel(actuator_to_wire(position, self.axis_unit)), target)

    def _as_actuator(self, position: Union[float, DataActuator]) -> DataActuator:
        if isinstance(position, DataActuator):
            return position
        return position_to_actuator(float(position), self._title, self.axis_unit)

    def move_home(self) -> None:
        """Send ``move_home``; the client's ``move_done`` ends it."""
        self._send_move(MoveHome(), None)

    def stop_motion(self) -> None:
        """Send ``stop_motion``.  A move in progress ends with the client's ``move_done`` or, if it does
        not come within :data:`STOP_REPLY_S` (PyMoDAQ 3.x/4.x clients ignore ``stop_motion``), here at
        the last known position; its request stays open until its own timeout, so that its late
        ``move_done`` is recognised (shown as a position) and cannot end a later move."""
        self._cancel_reconnect_wait('stop_motion')
        sent = self.bridge is not None and self.bridge.send(StopMotion()) is not None
        move = self._move_request
        if not sent or move is None:
            self._move_request = None
            self.move_done(self._current_value)
            return
        QTimer.singleShot(int(STOP_REPLY_S * 1000), lambda: self._stop_unanswered(move))

    def _stop_unanswered(self, move: int) -> None:
        if self._move_request != move:
            return  # the move ended meanwhile
        self._move_request = None
        self._status(f'the client did not end the move within {STOP_REPLY_S:g} s of stop_motion: move ended '
                     'here at the last known position', error=True)
        self.move_done(self._current_value)

    # -- replies --------------------------------------------------------------------------------------
    def _position(self, message: Union[PositionIs, MoveDone]) -> DataActuator:
        position = position_to_actuator(float(message.value.real if isinstance(message.value, complex)
                                              else message.value), self._title, self.axis_unit)
        return self.get_position_with_scaling(position)

    def _on_client_message(self, message: Message, request_id: int, delivery: Delivery) -> None:
        if isinstance(message, MoveDone) and request_id and request_id == self._move_request:
            self._move_request = None
            self._current_value = self._position(message)
            self.move_done(self._current_value)
        elif isinstance(message, (PositionIs, MoveDone)):  # a report, or a move_done nobody awaits
            self._current_value = self._position(message)
            self.emit_value(self._current_value)
        else:
            super()._on_client_message(message, request_id, delivery)

    def _on_client_settings(self) -> None:
        names = [c.name() for c in self.settings.child('settings_client').children()]
        if 'units' in names:  # PyMoDAQ 4.4 clients and ours send their axis units this way
            units = str(self.settings['settings_client', 'units']).strip()
            if units != self.axis_unit:
                problem = units_problem(units)
                if problem:
                    self._status(f'client units {units[:40]!r} refused ({problem}): the axis stays in '
                                 f'{self.axis_unit!r}', error=True)
                else:
                    self.axis_unit = units

    def _on_reply_timeout(self, event: ReplyTimeout) -> None:
        if event.request_id and event.request_id == self._move_request:
            self._move_request = None
            why = f' ({PYMODAQ5_LIMITS})' if event.client.dialect is Dialect.PYMODAQ5 else ''
            self._status(f'no move_done from the client within {self.settings["timeout"]} s after '
                         f'{event.command}{why}: connection closed, so that its late move_done cannot end a '
                         'later move', error=True)
            self._move_failed()
        elif MoveDone in event.expected:  # an earlier move (ended here at a stop, or followed by another)
            self._status(f'no move_done from the client after an earlier {event.command}: connection closed, so '
                         'that its late move_done cannot end a later move', error=True)
        else:
            self._status(f'no answer to {event.command} from the client', error=True)

    def _on_control_lost(self, client: ClientInfo) -> None:
        if self._move_request is None:
            return
        self._move_request = None
        replayed, replay = self._replay_of_move()
        lost_during = replayed if self._move_sent in (MoveAbs.command, MoveHome.command) else \
            f'{self._move_sent} (to {self._at(self._move_target)})'
        if not self._wait_for_client(lost_during, replayed, replay):
            self._status(f'client {client.peer} lost during {lost_during}', error=True)
            self._move_failed()

    def _on_reconnect_expired(self, waiting: Waiting) -> None:
        super()._on_reconnect_expired(waiting)  # PyMoDAQ's timeout status
        self._show_not_moving()

    def _move_failed(self) -> None:
        """The move ended without reaching its target: PyMoDAQ's timeout status, and DAQ_Move's LED
        no longer "moving"."""
        self.emit_status(ThreadCommand(ThreadStatus.RAISE_TIMEOUT))
        self._show_not_moving()

    def _show_not_moving(self) -> None:
        """Turn DAQ_Move's "moving" LED back to idle without a ``move_done``, which would tell a scan
        that the target was reached.  PyMoDAQ 5.3 clears that LED only on MOVE_DONE; its UPDATE_UI
        command calls a method of the module's UI with arguments, here the UI's ``__setattr__`` for
        its ``move_done`` property (nothing happens without a UI: headless, in a scan script)."""
        self.emit_status(ThreadCommand(ThreadStatus.UPDATE_UI, '__setattr__', args=('move_done', True)))

    def _ready_for_replay(self, client: ClientInfo) -> bool:
        return client.dialect is not None  # a move is encoded in its dialect: known once it answered the probe

    def close(self) -> None:
        """Close every socket and stop the server thread."""
        self._cancel_reconnect_wait('closed')
        self._stop_bridge()
