"""A remote detector: :class:`GrabberClient` answers ``Send Data`` with its data and may push
data unasked (live streaming).  Numpy and the standard library only.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from ..protocol.data import DataToExport, DataWithAxes
from ..protocol.messages import (
    GRABBER,
    Done,
    Message,
    SendData,
    command_string,
)
from .client import BridgeClient, log

#: what :meth:`GrabberClient.grab` returns: arrays (one per channel), or data with axes
GrabResult = Union[Sequence[np.ndarray], DataToExport, DataWithAxes]


class GrabberClient(BridgeClient):
    """A remote detector: answers ``Send Data 0D/1D/2D/ND`` with ``Done`` + data.

    Override :meth:`grab` or pass ``grab=callable(dim) -> data``.  Data is a list of numpy arrays
    (one per channel; legacy dialect), or a :class:`DataToExport` / :class:`DataWithAxes` with
    names, axes, labels and units (pymodaq4 dialect; in legacy only the arrays are sent).
    :meth:`push` sends data unsolicited (streaming); while it does (a push within the last
    :attr:`PUSHING_S` seconds), a ``Send Data`` is answered by the next pushed data instead of an extra
    :meth:`grab`: a live grab of the plugin then gets each frame once, and a snap gets the next frame
    acquired.  See :class:`BridgeClient` for the arguments.
    """

    client_type = GRABBER
    root_name = 'detector_settings'
    #: seconds after a push during which the client counts as streaming
    PUSHING_S = 1.0

    def __init__(self, host: str = '127.0.0.1', port: int = 6341, *,
                 grab: Optional[Callable[[str], GrabResult]] = None, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self._grab = grab
        self._pushed_at = -self.PUSHING_S

    def grab(self, dim: str) -> GrabResult:
        """Acquire and return one set of data; ``dim`` is what the server asked ('0D'...'ND')."""
        if self._grab is None:
            raise NotImplementedError('override GrabberClient.grab or pass grab=')
        return self._grab(dim)

    def push(self, data: GrabResult) -> None:
        """Send data without a request (live streaming); thread-safe.

        Raises:
            ConnectionLost / OSError: not connected, or the connection broke.
        """
        # streaming from now on: a request read while this push is on its way is answered by it (the
        # server pairs it with the request sent before it arrived), not by one more grab
        self._pushed_at = time.monotonic()
        self.send(Done(_as_payload(data)))
        self._pushed_at = time.monotonic()

    def handle(self, message: Message) -> None:
        if isinstance(message, SendData):
            if time.monotonic() - self._pushed_at < self.PUSHING_S:
                log.debug('%s answered by the data being pushed', command_string(message))
                return  # streaming: the push under way, or the next one, answers it
            try:
                data = self.grab(message.dim)
            except Exception as error:  # the instrument failed: tell the plugin, keep serving
                log.exception('grab(%s) failed', message.dim)
                self.send_info('error', f'grab failed: {error}')
                return
            self.send(Done(_as_payload(data)))
        else:
            super().handle(message)


def _as_payload(data: GrabResult) -> Union[list, DataToExport]:
    if isinstance(data, DataWithAxes):
        return DataToExport(data.name, data=[data])
    if isinstance(data, DataToExport):
        return data
    return [np.asarray(a) for a in data]
