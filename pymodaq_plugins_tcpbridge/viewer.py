"""The detector side of the bridge, shared by DAQ_0D/1D/2D/NDViewer_TCPServer."""
from __future__ import annotations

from typing import Optional

import numpy as np
from pymodaq.control_modules.viewer_utility_classes import DAQ_Viewer_base, comon_parameters
from pymodaq.utils.data import Axis, DataToExport

from tcpbridge import GRABBER, AxisInfo, ClientInfo, Done, Message, ReplyTimeout, SendData

from .acyclic import detach_slicers
from .bridge import TCPServerBridge, tcp_parameters
from .convert import payload_to_dte


class DAQ_xDViewer_TCPServer(TCPServerBridge, DAQ_Viewer_base):
    """Detector plugin whose data come from a remote GRABBER client over TCP/IP.

    ``grab_data`` sends ``Send Data <grabber_type>`` and returns; the client's ``Done`` + data
    becomes a DataToExport emitted on ``dte_signal`` (legacy: one DataFromPlugins whose channels are
    the arrays; pymodaq4: names, axes, labels and units as sent).  Data pushed by the client without
    a request is emitted the same way (live streaming).  ``Naverage`` > 1 asks the client that many
    times and emits the average.  With no client connected, a grab says so and emits nothing.
    """

    client_type = GRABBER
    grabber_type = '1D'
    hardware_averaging = True  # the averaging is done here, one request per frame
    params = comon_parameters + tcp_parameters()

    def ini_attributes(self) -> None:
        self.controller = None
        self._naverage = 1
        self._received = 0
        self._average: Optional[DataToExport] = None
        self._waiting = False
        self._legacy_axes: dict = {}

    def ini_detector(self, controller=None):
        """Start listening for GRABBER clients; returns at once (a client may connect later).

        Returns:
            (info, initialized): initialized is False if the address cannot be listened on.
        """
        return self._start_bridge()

    def grab_data(self, Naverage: int = 1, **kwargs) -> None:
        """Ask the client for data (``Send Data xD``); the answer is emitted on ``dte_signal``."""
        if not self.client_connected:
            self._status('no client connected: nothing to grab', error=True)
            return
        self._naverage = max(1, int(Naverage))
        self._received = 0
        self._average = None
        self._waiting = True
        self._request()

    def _request(self) -> None:
        if not self.bridge.send(SendData(self.grabber_type), expect=('Done',),
                                timeout=self.settings['reply_timeout']):
            self._waiting = False
            self._status('no client connected: nothing to grab', error=True)

    def _on_client_message(self, message: Message) -> None:
        if isinstance(message, Done):
            self._on_data(payload_to_dte(message.data, self._title))
        elif isinstance(message, AxisInfo):  # PyMoDAQ 3.x viewers describe their axes this way
            self._legacy_axes[message.which] = message
        else:
            super()._on_client_message(message)

    def _on_data(self, dte: DataToExport) -> None:
        if self._legacy_axes:
            for dwa in dte:
                dwa.axes = self._axes_for(dwa.shape)
        if self._waiting and self._naverage > 1:
            self._received += 1
            self._average = dte if self._average is None else dte.average(self._average, self._received - 1)
            if self._received < self._naverage:
                self._request()
                return
            dte = self._average
        self._waiting = False
        detach_slicers(dte)  # freed as soon as its consumers drop it (acyclic.py)
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
        self._waiting = False
        self._status(f'no data from the client within {self.settings["reply_timeout"]:g} s after '
                     f'{event.command!r}; the next grab asks again', error=True)

    def _on_controller_lost(self, client: ClientInfo) -> None:
        if self._waiting:
            self._waiting = False
            self._status(f'client {client.peer} lost during a grab: no data', error=True)

    def stop(self) -> str:
        """Stop waiting for data (a pending answer is still shown if it comes)."""
        self._waiting = False
        return ''

    def close(self) -> None:
        """Close every socket and stop the server thread."""
        self._stop_bridge()
