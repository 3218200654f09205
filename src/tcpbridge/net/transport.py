"""Socket helpers shared by the client library and the server engine (docs/protocol.rst §1).

Exact reads go through :class:`~tcpbridge.protocol.decoder.Decoder`'s buffer (``recv_into``); sends
write the encoder's buffers with ``sendmsg`` so that an array is never concatenated with its header.
"""
from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import ssl
import threading
from typing import Iterator, Optional, Sequence, Tuple

from ..protocol.buffers import OutQueue
from ..protocol.grammar import Buffer

#: seconds after which a peer that neither answers keepalive probes nor acknowledges what was sent
#: (power cut, cable pulled, a firewall dropping packets) is declared gone
DEAD_LINK_S = 10.0
#: keepalive probes sent before giving up
KEEPALIVE_PROBES = 3


def keepalive_times(dead_link_s: float) -> Tuple[int, int, int]:
    """``(idle, interval, count)`` in whole seconds (what the OSes take): probe after ``idle`` s of
    silence, every ``interval`` s, give up after ``count`` unanswered probes, so that an idle dead link
    is declared within ``idle + interval * count`` <= ``dead_link_s`` s (at least 2 s: 1 + 1 x 1).

    Raises:
        ValueError: ``dead_link_s`` < 2.
    """
    if dead_link_s < 2:
        raise ValueError(f'a dead link cannot be detected in under 2 s, got {dead_link_s:g}')
    idle = max(1, int(dead_link_s // 2))
    count = min(KEEPALIVE_PROBES, int(dead_link_s) - idle)
    return idle, max(1, int((dead_link_s - idle) // count)), count


def configure(sock: socket.socket, dead_link_s: float = DEAD_LINK_S) -> None:
    """``TCP_NODELAY`` (small commands are not held back by Nagle / delayed ACK), and dead-link
    detection within ``dead_link_s`` s: keepalive probes while idle (:func:`keepalive_times`) and,
    where the OS has it (Linux), ``TCP_USER_TIMEOUT``, which also ends a connection whose sent data
    stay unacknowledged (or whose peer's window stays shut) that long.  On Linux and macOS the
    keepalive times are socket options; on Windows, ``SIO_KEEPALIVE_VALS`` (count fixed by the OS).

    Raises:
        OSError: the socket is already closed or reset.
        ValueError: ``dead_link_s`` < 2.
    """
    idle, interval, count = keepalive_times(dead_link_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # TCP_KEEPALIVE is macOS's name of TCP_KEEPIDLE
    idle_option = getattr(socket, 'TCP_KEEPIDLE', None) or getattr(socket, 'TCP_KEEPALIVE', None)
    for option, value in ((idle_option, idle), (getattr(socket, 'TCP_KEEPINTVL', None), interval),
                          (getattr(socket, 'TCP_KEEPCNT', None), count),
                          (getattr(socket, 'TCP_USER_TIMEOUT', None), int(dead_link_s * 1000))):
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
    if idle_option is None and hasattr(socket, 'SIO_KEEPALIVE_VALS'):  # older Windows
        sock.ioctl(socket.SIO_KEEPALIVE_VALS, (1, idle * 1000, interval * 1000))  # type: ignore[attr-defined]


def connect(host: str, port: int, timeout: float, dead_link_s: float = DEAD_LINK_S) -> socket.socket:
    """A TCP connection to ``host:port`` (IPv4 or IPv6, whatever ``host`` resolves to), configured
    (:func:`configure`).

    Raises:
        OSError: refused, unreachable, or no answer within ``timeout`` seconds.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        configure(sock, dead_link_s)
    except OSError:
        sock.close()
        raise
    return sock


def listen(host: str, port: int, backlog: int = 8) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: the OS chooses); IPv6 if ``host`` is one.

    Raises:
        OSError: the address is in use or cannot be assigned.
    """
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # lets a closed plugin listen again at once on the same port (no TIME_WAIT refusal) but,
        # on Linux, still refuses a port another socket is listening on
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def send_buffers(sock: socket.socket, buffers: Sequence[Buffer]) -> None:
    """Send every buffer in order, without joining them (blocking socket).

    Raises:
        OSError: the connection broke, or the socket timeout expired.
    """
    if isinstance(sock, ssl.SSLSocket):  # no sendmsg over TLS: each buffer as it is (no join)
        for buffer in buffers:
            sock.sendall(buffer)
        return
    queue = OutQueue()
    queue.push(buffers)
    while queue:
        queue.consume(sock.sendmsg(queue.views()))


def parse_endpoint(text: str, default_host: str = '127.0.0.1') -> Tuple[str, int]:
    """``'[ADDR:]PORT'`` / ``'HOST:PORT'`` (IPv6 in brackets: ``'[::1]:6341'``) as ``(host, port)``.

    Raises:
        ValueError: no port in 0..65535.
    """
    host, _, port = text.rpartition(':')
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f'{text!r} is not [ADDR:]PORT (e.g. 6341, 0.0.0.0:6341, [::1]:6341)')
    return host.strip('[]') or default_host, int(port)


def format_address(address: Tuple[str, int]) -> str:
    """``'host:port'``, with IPv6 hosts in brackets."""
    host, port = address[0], address[1]
    return f'[{host}]:{port}' if ':' in host else f'{host}:{port}'


def sock_peer(sock: socket.socket) -> str:
    """``host:port`` of the other end, or ``'?'`` if the connection is already gone."""
    try:
        return format_address(sock.getpeername()[:2])
    except OSError:
        return '?'


def close_quietly(sock: Optional[socket.socket]) -> None:
    """Shut down and close ``sock``, ignoring errors of an already broken connection."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Waker:
    """A socket pair that wakes a ``select`` loop from another thread: register :attr:`reader`,
    call :meth:`wake` from anywhere, :meth:`drain` when the loop sees it readable."""

    def __init__(self) -> None:
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)

    def wake(self) -> None:
        """Make the loop's ``select`` return (a full pipe already does)."""
        try:
            self._writer.send(b'x')
        except OSError:
            pass

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less if :meth:`wake` is called (or a signal comes, see
        :meth:`signals_wake`); what woke it is drained."""
        with selectors.DefaultSelector() as selector:  # not select.select: fds above 1023 are fine
            selector.register(self.reader, selectors.EVENT_READ)
            if selector.select(seconds):
                self.drain()

    @contextlib.contextmanager
    def signals_wake(self) -> Iterator[None]:
        """Within the block, a signal wakes the loop's ``select`` (Python's wakeup fd,
        ``signal.set_wakeup_fd``, is this waker), so that its Python handler (e.g. Ctrl+C's
        KeyboardInterrupt) runs at once.  Without it, a signal the OS hands to another thread (a
        worker of the client) leaves the main thread asleep in ``select`` until something else
        comes (CPython issue 85300).  Python runs handlers in the main thread only: elsewhere, and
        when the wakeup fd is in use (e.g. an asyncio loop's), this does nothing.  The previous
        wakeup fd is restored after the block."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        if previous != -1:  # someone else's: leave it
            signal.set_wakeup_fd(previous)
            yield
            return
        try:
            yield
        finally:
            signal.set_wakeup_fd(-1)

    def drain(self) -> None:
        """Read what :meth:`wake` (or a signal) wrote."""
        try:
            while self.reader.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        """Close both sockets."""
        self.reader.close()
        self._writer.close()
