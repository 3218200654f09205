"""Connect mode (PyMoDAQ#246): the server dials an always-on instrument that listens, again after
every loss or failure, with a doubling wait.  For :class:`~tcpbridge.net.server.BridgeServer`, in
its engine thread: non-blocking connects watched by its selector.
"""
from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import time
from typing import List, Optional, Tuple

from ..protocol.events import ConnectFailed
from .transport import format_address

log = logging.getLogger('tcpbridge.server')

#: first and longest wait between attempts to reach the instrument (doubling), seconds
REDIAL_DELAYS = (0.5, 10.0)


def os_message(code: int) -> str:
    """``'ECONNREFUSED (Connection refused)'`` for an errno value."""
    return f'{errno.errorcode.get(code, code)} ({os.strerror(code)})'


class Dialer:
    """Attempts to connect to ``address`` (host, port), registered on ``selector`` while under way.

    Attributes:
        due_at: ``time.monotonic()`` of the next attempt (None: none planned, one is under way or
            connected).
        connecting: the socket of the attempt under way (watched for writability), or None.
    """

    def __init__(self, address: Tuple[str, int], selector: selectors.BaseSelector) -> None:
        self.address = address
        self.peer = format_address(address)
        self._selector = selector
        self._delay = REDIAL_DELAYS[0]
        self.due_at: Optional[float] = time.monotonic()
        self.connecting: Optional[socket.socket] = None

    def start_if_due(self) -> List[ConnectFailed]:
        """Begin the planned attempt if its time has come; returns the failure if it failed at once."""
        if self.due_at is None or time.monotonic() < self.due_at:
            return []
        failure = self.start()
        return [] if failure is None else [failure]

    def start(self) -> Optional[ConnectFailed]:
        """Begin a non-blocking connection; returns why it failed at once (the next attempt is then
        planned), or None (under way: :attr:`connecting`)."""
        self.due_at = None
        host, port = self.address
        try:
            family, kind, proto, _, target = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
        except OSError as error:
            return self.failed(error.strerror or str(error))
        sock.setblocking(False)
        code = sock.connect_ex(target)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            return self.failed(os_message(code))
        self.connecting = sock
        self._selector.register(sock, selectors.EVENT_WRITE)
        return None

    def completed(self) -> Tuple[Optional[socket.socket], Optional[ConnectFailed]]:
        """The attempt under way ended (its socket became writable): (the connected socket, None) or
        (None, why it failed; the next attempt is planned)."""
        sock, self.connecting = self.connecting, None
        assert sock is not None
        self._selector.unregister(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            sock.close()
            return None, self.failed(os_message(code))
        self._delay = REDIAL_DELAYS[0]
        log.info('connected to the instrument at %s', self.peer)
        return sock, None

    def failed(self, reason: str) -> ConnectFailed:
        """An attempt failed for ``reason``: plan the next one (the wait doubles up to
        ``REDIAL_DELAYS[1]``); returns the event that says so."""
        retry_in = self._delay
        self._delay = min(self._delay * 2, REDIAL_DELAYS[1])
        self.due_at = time.monotonic() + retry_in
        log.debug('cannot reach %s: %s; again in %g s', self.peer, reason, retry_in)
        return ConnectFailed(self.peer, reason, retry_in)

    def connection_ended(self) -> None:
        """The instrument's connection ended: dial again after the current wait."""
        self.due_at = time.monotonic() + self._delay

    def close(self) -> None:
        """Abandon the attempt under way, if any."""
        sock, self.connecting = self.connecting, None
        if sock is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
