"""Refused connections kept open for a moment so that their refusal notice reaches the client
(docs/protocol.rst §9.4): for :class:`~tcpbridge.net.server.BridgeServer`, in its engine thread.
"""
from __future__ import annotations

import selectors
import socket
import ssl
import time
from typing import Dict, Optional

from .transport import close_quietly

#: seconds a refused connection is kept after its refusal notice, reading what the client still
#: sends, so that closing does not reset the connection before the client read the notice
LINGER_S = 2.0
#: the selector data of a lingering socket
LINGERING = object()


class Lingering:
    """Refused sockets registered on ``selector`` (data :data:`LINGERING`) until the client closes or
    :data:`LINGER_S` pass."""

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector
        self._until: Dict[socket.socket, float] = {}  # socket -> when it is closed anyway

    def add(self, sock: socket.socket, farewell: list) -> None:
        """Send a refused client its notice ``farewell`` (a few hundred bytes: the socket buffer takes
        them at once, else what fits; none after a failed TLS handshake, whose alert is the notice),
        stop writing, and keep reading (discarding): a close with unread bytes would reset the
        connection and could destroy the notice before the client read it."""
        try:
            if not farewell:  # a failed TLS handshake: OpenSSL sent its alert already
                pass
            elif isinstance(sock, ssl.SSLSocket):  # no sendmsg
                sock.send(b''.join(bytes(b) for b in farewell))
            else:
                sock.sendmsg(farewell)
            sock.shutdown(socket.SHUT_WR)
            self._selector.register(sock, selectors.EVENT_READ, LINGERING)
        except OSError:  # ssl.SSLWantWriteError included: it gets no notice
            close_quietly(sock)
            return
        self._until[sock] = time.monotonic() + LINGER_S

    def read(self, sock: socket.socket) -> None:
        """A refused connection sent something (or its end): discard it; close at its end."""
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            pass
        self._close(sock)

    def expire(self, now: float) -> Optional[float]:
        """Close the sockets whose time is up at ``now``; returns when the next one's is (None: none)."""
        for sock in [s for s, until in self._until.items() if until <= now]:
            self._close(sock)
        return min(self._until.values(), default=None)

    def close_all(self) -> None:
        """Close every lingering socket (the server stops)."""
        for sock in list(self._until):
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        self._until.pop(sock, None)
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        close_quietly(sock)
