"""Reading a large field in few large reads: the socket's receive low-water mark (``SO_RCVLOWAT``).

A receiver that keeps up with its sender is woken by ``select`` at nearly every segment that arrives:
on loopback an 8 MiB frame came in ~27 reads of ~300 KiB, each a pass through the event loop (select,
locks, the decoder) that holds the GIL while the sender's thread wants it.  With ``SO_RCVLOWAT`` set to
the bytes still missing of the field being received (at most :data:`LOW_WATER_MAX`), ``select`` /
``poll`` / ``epoll`` report the socket readable only once that much is there, or at the peer's close
or an error: the frame comes in ~9 reads, and the engine path (engine + GrabberClient threads) went
from 0.68-0.82 to ~1.0 of a bare socket in side-by-side runs (``benchmarks/bench_core.py`` measures it
with and without the mark).  Between large fields the mark is 1 again, so that commands and small
messages are read at once.
"""
from __future__ import annotations

import socket
import ssl

#: the most a receiver waits for before reading a large field, bytes
LOW_WATER_MAX = 512 * 1024
#: the mark stays under this share of the socket's receive buffer: the bytes awaited always fit in the
#: receive window (recent Linux caps the mark itself; older kernels and other systems may not)
RECEIVE_BUFFER_SHARE = 4


class ReceiveLowWater:
    """The ``SO_RCVLOWAT`` of one socket, kept at the bytes a decoder still awaits of a large field.

    Args:
        sock: a connected TCP socket; a TLS socket is left alone (its records are decrypted in
            user space, where bytes may wait that the mark does not count), as is a system where
            the option cannot be set (Windows): reading is then as without the mark.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._asked = 1
        self._enabled = hasattr(socket, 'SO_RCVLOWAT') and not isinstance(sock, ssl.SSLSocket)

    @property
    def enabled(self) -> bool:
        """False on a TLS socket, or once setting the option failed."""
        return self._enabled

    def follow(self, missing: int) -> None:
        """Wait for ``missing`` bytes (the decoder's ``field_missing``; 0: none awaited) before the
        socket reads as readable, at most :data:`LOW_WATER_MAX` and a quarter of its receive buffer.
        Never raises: if the option cannot be set, the mark is left at 1 from then on."""
        asked = min(missing, LOW_WATER_MAX) if missing > 1 else 1
        if asked == self._asked or not self._enabled:
            return
        try:
            mark = asked
            if mark > 1:
                receive_buffer = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                mark = max(1, min(mark, receive_buffer // RECEIVE_BUFFER_SHARE))
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, mark)
        except OSError:  # not supported here, or the socket is closed: reading works without it
            self._enabled = False
            return
        self._asked = asked
