"""The detector side of the bridge, shared by DAQ_0D/1D/2D/NDViewer_TCPServer."""
from __future__ import annotations

import time
import weakref
from collections import deque
from typing import Callable, Deque, Optional

import numpy as np
from pymodaq.control_modules.thread_commands import ThreadStatus
from pymodaq.control_modules.viewer_utility_classes import DAQ_Viewer_base, comon_parameters
from pymodaq.utils.data import Axis
from pymodaq_utils.utils import ThreadCommand
from qtpy.QtCore import QTimer

from tcpbridge import GRABBER
from tcpbridge.server import ClientInfo, ReplyTimeout
from tcpbridge.wire import AxisInfo, Done, Message, SendData

from .acyclic import detach_slicers
from .bridge import Delivery, TCPServerPlugin
from .convert import payload_to_dte
from .plugin_settings import LIMITS, tcp_parameters, tcp_set_once_groups

#: data pushed by the client while the module does not acquire are shown at most this often
#: (the newest wins): PyMoDAQ's DAQ_Viewer draws every data set it gets in the GUI thread
IDLE_PUSH_INTERVAL_S = 1 / 25
#: a client that pushed data within this many seconds is taken as streaming by itself
PUSH_MEMORY_S = 1.0


class DAQ_xDViewer_TCPServer(TCPServerPlugin, DAQ_Viewer_base):
    """Detector plugin whose data come from a remote GRABBER client over TCP/IP.

    ``grab_data`` sends ``Send Data <grabber_type>`` and returns; the client's ``Done`` + data
    becomes a DataToExport emitted on ``dte_signal`` (legacy: one DataFromPlugins whose channels are
    the arrays; pymodaq4: names, axes, labels and units as sent).  With no client connected, a grab
    says so and emits nothing.

    Live mode (PyMoDAQ's Grab, ``grab_data(live=True)``, until :meth:`stop`): a client that pushes
    data by itself (``GrabberClient.push``, ``tcpbridge module --grab``...) has every data set
    emitted, none requested; one that only answers gets the next request as soon as an answer
    arrives.  Data pushed while the module does not acquire are shown at most every
    :data:`IDLE_PUSH_INTERVAL_S` (the newest wins): PyMoDAQ's DAQ_Viewer draws each data set in the GUI
    thread and would fall ever further behind a fast instrument (PyMoDAQ#284); snaps, scans and
    live grabs (what PyMoDAQ saves) never skip one.  ``Naverage`` is PyMoDAQ's software averaging.

    A client lost during a grab: the grab waits *Reconnect wait* seconds for a client, which is then
    asked again (reconnect.py); a live grab stays armed (the status says since when no data came) and
    resumes by itself when a client is back.
    """

    client_type = GRABBER
    grabber_type = '1D'
    live_mode_available = True
    hardware_averaging = False  # PyMoDAQ averages; a live grab then leaves its polling loop
    params = comon_parameters + tcp_parameters() + tcp_set_once_groups()

    def ini_attributes(self) -> None:
        self.controller = None
        self._requests: Deque[int] = deque()  # the request ids of the Send Data not answered yet
        self._live = False
        self._live_lost = False  # the live grab lost its client and waits, armed, for the next
        self._last_push = self._last_done = -PUSH_MEMORY_S
        self._live_timer: Optional[QTimer] = None
        self._idle_pending: Optional[Done] = None
        self._idle_shown = 0.0
        self._idle_timer: Optional[QTimer] = None
        self._legacy_axes: dict = {}

    def ini_detector(self, controller=None):
        """Start listening for GRABBER clients; returns at once (a client may connect later).

        Returns:
            (info, initialized): initialized is False if the address cannot be listened on.
        """
        return self._start_bridge()

    def grab_data(self, Naverage: int = 1, live: bool = False, **kwargs) -> None:
        """One data set (``Send Data xD``, emitted on ``dte_signal`` when it comes), or with ``live``
        a stream of them until :meth:`stop`.  ``Naverage`` is averaged by PyMoDAQ (one request per
        data set)."""
        if not self.client_connected and not self._had_client:
            self._status('no client connected: nothing to grab', error=True)
            return
        self._live, self._live_lost = bool(live), False
        if self._live:
            self._watch_live()
            if self._client_pushes():
                return  # its pushed data are the stream
        self._request()

    def _watch_live(self) -> None:
        """While live, every PUSH_MEMORY_S: ask again if the client fell silent (it stopped pushing, or
        a late answer was taken for a push)."""
        if self._live_timer is None:
            self._live_timer = QTimer()
            self._live_timer.timeout.connect(self._on_live_watchdog)
        self._live_timer.start(int(PUSH_MEMORY_S * 1000))

    def _on_live_watchdog(self) -> None:
        if not self._live:
            if self._live_timer is not None:
                self._live_timer.stop()
        elif not self._requests and self._client_silent():
            self._request()

    def _client_silent(self) -> bool:
        """True if nothing came from the client in control for PUSH_MEMORY_S: none handled here, none
        received by the engine (waiting to be handled here), and not because back-pressure kept its data
        in the socket meanwhile (a request then would be answered beside the pushes)."""
        if self.bridge is None:
            return False
        in_control = self.bridge.in_control
        if in_control is None:
            return False  # nobody to ask: the live grab stays armed until a client is back
        return time.monotonic() - self._last_done >= PUSH_MEMORY_S and \
            time.time() - in_control.last_seen >= PUSH_MEMORY_S and not self.bridge.reading_paused_within(PUSH_MEMORY_S)

    def _next_live_request(self) -> None:
        """Ask an answering client for the next data set of a live grab (one request in flight: a
        stop leaves at most one answer to come); a client that pushes is left to stream."""
        if self._live and not self._requests and not self._client_pushes():
            self._request()

    def _client_pushes(self) -> bool:
        return time.monotonic() - self._last_push < PUSH_MEMORY_S

    def _request(self) -> None:
        """Ask for one data set; with no client in control, a live grab stays armed (the next client is
        asked), a single grab waits for a client (the reconnect wait) or fails at once."""
        message = SendData(self.grabber_type)
        request = None if self.bridge is None else \
            self.bridge.send(message, expect=(Done,), timeout=self.settings[LIMITS, 'reply_timeout'])
        if request is not None:
            self._requests.append(request)
        elif self._live:
            self._live_lost = True  # the next client in control is asked
        elif not self._wait_for_client(None, message.command_string, self._request):
            self._status('no client connected: nothing to grab', error=True)
            self.emit_status(ThreadCommand(ThreadStatus.RAISE_TIMEOUT))

    def _on_client_message(self, message: Message, request_id: int, delivery: Delivery) -> None:
        if isinstance(message, Done):
            self._on_done(message, request_id, delivery)
        elif isinstance(message, AxisInfo):  # PyMoDAQ 3.x viewers describe their axes this way
            self._legacy_axes[message.which] = message
        else:
            super()._on_client_message(message, request_id, delivery)

    def _on_done(self, message: Done, request_id: int, delivery: Delivery) -> None:
        # the engine pairs a Done with the oldest open request sent before it was received (one received
        # earlier was pushed: else a client that pushes and answers would be asked again at each of its
        # pushes and owe ever more answers); a push that overtakes an answer counts as it: same data
        requested = request_id in self._requests
        self._last_done = time.monotonic()
        if requested:
            self._requests.remove(request_id)
        else:
            self._last_push = self._last_done
        if requested or self._live:
            self._emit(message, delivery.take())
            if self._live and requested:
                self._next_live_request()
            return
        self._idle_pending = message  # the newest wins
        self._show_idle_push()

    def _show_idle_push(self) -> None:
        """Show the newest pushed data set if the last one shown is IDLE_PUSH_INTERVAL_S old, else
        come back then (from a timer, or from the next push, whichever is first)."""
        if self._idle_pending is None or self.bridge is None:
            return
        wait = self._idle_shown + IDLE_PUSH_INTERVAL_S - time.monotonic()
        if wait > 0:
            if self._idle_timer is None:
                self._idle_timer = QTimer()
                self._idle_timer.setSingleShot(True)
                self._idle_timer.timeout.connect(self._show_idle_push)
            if not self._idle_timer.isActive():
                self._idle_timer.start(int(wait * 1000) + 1)
            return
        message, self._idle_pending = self._idle_pending, None
        self._idle_shown = time.monotonic()
        self._emit(message, None)  # its release ended with its event: a pending push holds nothing

    def _emit(self, message: Done, release: Optional[Callable[[], None]]) -> None:
        """Emit the data of ``message``; ``release`` (back-pressure) is tied to the life of the
        DataToExport emitted."""
        dte = payload_to_dte(message.data, self._title)
        if self._legacy_axes:
            for dwa in dte:
                dwa.axes = self._axes_for(dwa.shape)
        detach_slicers(dte)  # freed as soon as its consumers drop it (acyclic.py)
        if release is not None:  # back-pressure: these bytes count until PyMoDAQ drops the data (GUI included)
            weakref.finalize(dte, release)
        self.dte_signal.emit(dte)

    def _axes_for(self, shape: tuple) -> list:
        """The ``x_axis`` / ``y_axis`` of a 3.x viewer that fit ``shape``: x is the last dimension
        (the only one of a 1D signal, the columns of an image), y the rows."""
        axes = []
        for which, index in (('y', len(shape) - 2), ('x', len(shape) - 1)):
            axis = self._legacy_axes.get(which)
            if axis is not None and index >= 0 and shape[index] == axis.values.size:
                axes.append(Axis(axis.label, axis.units, data=np.asarray(axis.values, dtype=float), index=index))
        return axes

    def _on_reply_timeout(self, event: ReplyTimeout) -> None:
        live, self._live = self._live, False
        if event.request_id in self._requests:
            self._requests.remove(event.request_id)
        self._status(f'no data from the client within {self.settings[LIMITS, "reply_timeout"]:g} s after '
                     f'{event.command!r}: connection closed, so that the late data cannot answer a later grab; '
                     f'{"live grab ended; " if live else ""}the next grab asks the client once it is back', error=True)

    def _on_control_lost(self, client: ClientInfo) -> None:
        self._last_push = -PUSH_MEMORY_S
        asked = bool(self._requests)
        self._requests.clear()
        command = SendData(self.grabber_type).command_string
        if self._live:
            self._live_lost = True
            self._status(f'client {client.peer} lost: no data since {time.strftime("%H:%M:%S")}; the live grab stays '
                         'armed and goes on when a client is back', error=True)
        elif asked and not self._wait_for_client(f'a grab ({command})', command, self._request):
            self._status(f'client {client.peer} lost during a grab: no data; grab again once a client is connected',
                         error=True)
            self.emit_status(ThreadCommand(ThreadStatus.RAISE_TIMEOUT))

    def _on_new_in_control(self, client: ClientInfo) -> None:
        super()._on_new_in_control(client)
        if self._live and self._live_lost:  # an armed live grab goes on (a client that pushes answers so)
            self._live_lost = False
            self._status(f'client {client.peer} back: the live grab goes on')
            self._request()

    def stop(self) -> str:
        """End a live grab; the answer to a request in flight is still shown when it comes, and counted
        as that answer (taken for a push, it would make the next live grab wait for pushes that never
        come, up to the watchdog's 1-2 s).  A grab waiting for a client no longer waits."""
        self._live = False
        self._cancel_reconnect_wait('stop')
        return ''

    def close(self) -> None:
        """Close every socket and stop the server thread."""
        self._cancel_reconnect_wait('closed')
        self._stop_bridge()
        self._requests.clear()
        self._live, self._idle_pending = False, None
        for timer in (self._idle_timer, self._live_timer):
            if timer is not None:
                timer.stop()  # here, in the plugin's thread, which owns them
        self._idle_timer = self._live_timer = None
