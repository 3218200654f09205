"""``tcpbridge module`` for a DAQ_Viewer: the module as a ``GRABBER`` client (see :mod:`.module_host`)."""
from __future__ import annotations

from typing import Any, List, Optional

from pymodaq.utils.data import DataSource, DataToExport

from tcpbridge import GrabberClient
from tcpbridge.wire import Done, SetInfo

from ..convert import dte_to_wire
from .module_host import Endpoint, ModuleHost, Waiter


class _HostedDetector(GrabberClient):
    """The GRABBER client of a hosted DAQ_Viewer: every grab goes to :class:`ViewerHost`."""

    def __init__(self, host: ViewerHost, endpoint: Endpoint) -> None:
        self.module_host = host
        super().__init__(endpoint.host, endpoint.port, listen=endpoint.listen, tls=endpoint.tls,
                         secret=endpoint.secret, dialect=endpoint.dialect, dead_link_s=endpoint.dead_link_s)

    def link_changed(self, state: str, detail: str) -> None:
        self.module_host.link_changed(state, detail)

    def grab(self, dim: str) -> Any:
        return self.module_host.snap(dim)

    def settings_xml(self) -> str:
        return self.module_host.settings_xml()

    def apply_set_info(self, message: SetInfo) -> None:
        self.module_host.apply_set_info(message)


class ViewerHost(ModuleHost):
    """Bridges a DAQ_Viewer as a GRABBER client.

    Answers carry the module's raw data (what its plugin emitted, averaged by the module if
    ``Naverage`` > 1), not what its own viewers compute (ROIs): those belong to the instrument PC's
    display.
    """

    hw_settings = 'detector_settings'

    def __init__(self, module: Any, endpoint: Endpoint, timeout: float) -> None:
        super().__init__(module, timeout)
        self._snaps: List[Waiter] = []
        self._latest: Optional[DataToExport] = None  # the frame of the running grab to push next
        self.pushed = self.dropped = 0
        self.client = _HostedDetector(self, endpoint)

    def snap(self, dim: str) -> Any:
        """Connection thread: one acquisition of the module, as the wire DataToExport.

        Raises:
            HostError: no data within the timeout.
        """
        waiter = Waiter()
        with self._lock:
            self._snaps.append(waiter)
        self.in_qt(self._start_snap)
        dte = waiter.wait(self.timeout, f'Send Data {dim}')
        return dte_to_wire(dte)

    def _start_snap(self) -> None:
        if not self.module.grab_state:  # during a continuous grab the next frame answers
            self.module.snap()

    def _connect_signals(self) -> None:
        self.module.grab_done_signal.connect(self._on_grab_done)

    def _on_grab_done(self, dte: DataToExport) -> None:
        """Qt thread: the module's data: answer the pending requests, or push a live frame."""
        raw = dte.get_data_from_source(DataSource.raw)
        with self._lock:
            waiters, self._snaps = self._snaps, []
            push = not waiters and self.module.grab_state and self.client.connected.is_set()
            if push:
                if self._latest is not None:
                    self.dropped += 1  # the link is slower than the camera: the newest frame wins
                else:
                    self._submit(self._push)
                self._latest = raw
        for waiter in waiters:
            waiter.resolve(raw)

    def _push(self) -> None:
        with self._lock:
            dte, self._latest = self._latest, None
        if dte is not None:
            self._send(Done(dte_to_wire(dte)))
            self.pushed += 1

    def _abandon_waits(self, reason: str) -> None:
        with self._lock:
            waiters, self._snaps = self._snaps, []
        for waiter in waiters:
            waiter.resolve(error=reason)
