"""Test helpers: an event log for the server engine, demo client processes, the C reference client."""
from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np

from tcpbridge.commands import ClientProcess
from tcpbridge.server import Event

#: the C reference client, and the machine's C compiler (None: the C client's tests are skipped)
C_CLIENT_SOURCE = Path(__file__).parents[1] / 'examples' / 'c' / 'tcpbridge_client.c'
C_COMPILER: Optional[str] = shutil.which('cc') or shutil.which('gcc') or shutil.which('clang')


class EventLog:
    """Collects engine events (called in the engine thread) and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: List[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10.0, after: int = 0) -> Event:
        """The first event (from index ``after``) matching ``predicate``; fail after ``timeout`` s."""
        with self._changed:
            found: List[Event] = []

            def match() -> bool:
                found[:] = [e for e in self.events[after:] if predicate(e)]
                return bool(found)

            if not self._changed.wait_for(match, timeout):
                raise AssertionError(f'no matching event within {timeout} s; got '
                                     f'{[type(e).__name__ for e in self.events[after:]]}')
            return found[0]

    def keep_last(self, count: int) -> None:
        """Forget all but the last ``count`` events (long runs keep their memory flat)."""
        with self._changed:
            del self.events[:-count]

    def of_type(self, kind: type) -> List[Event]:
        with self._changed:
            return [e for e in self.events if isinstance(e, kind)]


@contextlib.contextmanager
def client_process(*args: str) -> Iterator[subprocess.Popen]:
    """A ``tcpbridge`` demo client in its own process; SIGTERM at the end, it must exit 0 by itself."""
    client = ClientProcess(args)
    try:
        yield client.process
    finally:
        code = client.stop()
        assert code == 0, f'tcpbridge {" ".join(args)} exited with {code}: {client.process.stderr}'


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = 'condition',
               qt: bool = False) -> None:
    """Wait until ``condition()`` is true (processing Qt events if ``qt``), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        if qt:
            from qtpy.QtWidgets import QApplication
            QApplication.processEvents()
        time.sleep(0.002)


def received(kind: type) -> Callable[[Event], bool]:
    """An :meth:`EventLog.wait_for` predicate: a message of class ``kind`` from the client in control."""
    from tcpbridge.server import MessageReceived
    return lambda e: isinstance(e, MessageReceived) and isinstance(e.message, kind)


def free_port() -> int:
    """A loopback port free now (for a process that must listen on a port known in advance)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class LegacyPeer:
    """The other end of a connection written as third-party control software would, with raw
    sockets and the legacy dialect (docs/protocol.rst §2): strings, scalars, nothing else."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, n: int) -> bytes:
        data = b''
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, 'the peer closed the connection'
            data += chunk
        return data

    def string(self) -> str:
        return self.read(struct.unpack('>i', self.read(4))[0]).decode()

    def scalar(self) -> float:
        """A SCALAR (docs/protocol.rst §1.3): dtype string, 4-byte length, the value."""
        dtype = self.string()
        return float(np.frombuffer(self.read(struct.unpack('>i', self.read(4))[0]), dtype=dtype)[0])

    def send_string(self, text: str) -> None:
        data = text.encode()
        self.sock.sendall(struct.pack('>i', len(data)) + data)

    def send_scalar(self, value: float) -> None:
        self.send_string('<f8')
        self.sock.sendall(struct.pack('>i', 8) + struct.pack('<d', value))

    def until(self, command: str) -> None:
        """Read messages until ``command`` (``position_is`` / ``Info`` met on the way are skipped)."""
        while (got := self.string()) != command:
            if got == 'position_is':
                self.scalar()
            else:
                assert got == 'Info', got
                self.string(), self.string()


def stop_process(process: subprocess.Popen, what: str, log: Path, signum: int = signal.SIGTERM,
                 timeout: float = 30.0) -> str:
    """Stop ``process`` as a user would (``signum``); it must exit 0 by itself within ``timeout`` s.
    Returns its output (the file ``log``)."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f'{what} ignored signal {signum} for {timeout:g} s:\n{log.read_text()[-2000:]}') from None
    output = log.read_text()
    assert code == 0, output
    return output


def compile_c_client(binary: Path, *options: str) -> subprocess.CompletedProcess:
    """Build examples/c/tcpbridge_client.c into ``binary`` with :data:`C_COMPILER`, C99, warnings as
    errors; ``options`` come last (e.g. ``-DTCPBRIDGE_TLS -lssl -lcrypto``). The caller reads the result."""
    assert C_COMPILER is not None, 'no C compiler on this machine'
    return subprocess.run([C_COMPILER, '-std=c99', '-D_POSIX_C_SOURCE=200809L', '-O2', '-Wall', '-Wextra', '-Werror',
                           '-o', str(binary), str(C_CLIENT_SOURCE), '-lm', *options],
                          capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def c_client(binary: Path, *args: str, env: Optional[Dict[str, str]] = None) -> Iterator[subprocess.Popen]:
    """The C reference client ``binary ARGS`` running (in ``env``, default this process's); at the end
    SIGTERM, on which it sends Quit and must exit 0 by itself, saying 'stopped'."""
    process = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        yield process
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, out + err
        assert out.rstrip().endswith('stopped'), out + err


def qt_app() -> Any:
    """The process's QApplication, made on the first call by PyMoDAQ's ``mkQApp`` (its theme and style,
    as the commands make it) and reused after. PyMoDAQ 5.3's ``mkQApp`` applies its style again at every
    call, replacing the application's QStyle (a Python-made proxy style in its dark theme) under live
    widgets: called once per test in one process it crashed Qt (a segmentation fault in
    ``qt_themes.set_theme``, seen in CI)."""
    from qtpy.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        from pymodaq_gui.qt_utils import mkQApp
        app = mkQApp('tests')
    return app
