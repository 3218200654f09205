"""``tcpbridge monitor``: a transparent relay between a client and a server that prints every message
both ways, decoded (the dialect is read from the bytes), and can save the session as a transcript
that ``tcpbridge replay`` plays.

Bytes are relayed as they come, unchanged, whatever the decoding says; a direction that stops
decoding (bytes that break the protocol) goes on being relayed and says so.  Memory holds at most
the message being decoded in each direction: sessions are streamed, not buffered.
"""
from __future__ import annotations

import selectors
import socket
import threading
import time
from typing import Any, List, Optional, TextIO

import numpy as np

from ..net.transport import close_quietly, connect, format_address, listen
from ..protocol.data import DataToExport, DataWithAxes
from ..protocol.decoder import Decoder, Side
from ..protocol.errors import ProtocolError
from ..protocol.limits import DEFAULT_LIMITS, Limits
from ..protocol.messages import ClientType, Done, Infos, Message, PositionMessage, command_string
from .transcript import CLIENT, SERVER, render

#: bytes read from a socket at once
CHUNK = 256 * 1024


def summarize_array(array: np.ndarray) -> str:
    """``shape dtype`` and, for numbers, ``min..max`` (a frame is never printed whole)."""
    text = f'{"x".join(map(str, array.shape)) or "scalar"} {array.dtype.str}'
    if array.size and array.dtype.kind in 'biuf':
        text += f' [{array.min():g}..{array.max():g}]'
    return text


def summarize(message: Message) -> str:
    """One line for ``message``: its command and what its payload holds, arrays summarised."""
    name = command_string(message) if not isinstance(message, ClientType) else f'hello {message.client_type}'
    if isinstance(message, Done):
        if isinstance(message.data, DataToExport):
            parts = [f'{d.name} ({d.class_name}, {d.units or "no units"}): '
                     + ', '.join(summarize_array(a) for a in d.data)
                     + (f'; axes {", ".join(f"{x.label} ({x.units})" for x in d.axes)}' if d.axes else '')
                     for d in message.data.data]
            return f'{name} pymodaq4 DataToExport {message.data.name!r}: ' + '; '.join(parts)
        return f'{name} legacy: ' + ', '.join(summarize_array(np.asarray(a)) for a in message.data)
    if isinstance(message, PositionMessage):
        dialect = message.dialect.value if message.dialect else ''
        units = f' {message.units}' if message.units else ''
        return f'{name} {message.value!r}{units} ({dialect})'
    if isinstance(message, Infos):
        return f'{name}: settings XML of {len(message.xml.encode())} bytes'
    fields = [f'{k}={_short(v)}' for k, v in vars(message).items() if k not in ('dialect', 'layout')]
    return name + (f' {", ".join(fields)}' if fields and not isinstance(message, ClientType) else '')


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return summarize_array(value)
    if isinstance(value, DataWithAxes):
        return f'{value.class_name} {value.value!r}'
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


class Direction:
    """One way of the relay: decodes what passes, prints it, keeps its bytes for the transcript."""

    def __init__(self, arrow: str, limits: Limits, out: TextIO, save: Optional[TextIO]) -> None:
        self.arrow = arrow
        self.decoder: Optional[Decoder] = Decoder(Side.SERVER if arrow == CLIENT else Side.CLIENT, limits)
        self.out = out
        self.save = save
        self.raw = bytearray()  # the bytes of the message being decoded (kept only with --save)
        self.hello = arrow == CLIENT
        self.bytes = 0

    def passed(self, data: bytes, started: float) -> None:
        """``data`` went through this way: print the messages it completed."""
        self.bytes += len(data)
        if self.decoder is None:
            return
        if self.save is not None:
            self.raw += data
        try:
            messages = self.decoder.feed_sized(data)
        except ProtocolError as error:
            self.decoder = None
            self._print(started, f'undecodable from here ({error}); relaying the bytes undecoded')
            return
        for message, size in messages:
            self._print(started, f'{size:>9} B  {summarize(message)}')
            if self.save is not None:
                chunk, self.raw = bytes(self.raw[:size]), self.raw[size:]
                self.save.write('\n'.join(render(self.arrow, chunk, hello=self.hello)) + '\n')
                self.save.flush()
            self.hello = False

    def _print(self, started: float, text: str) -> None:
        print(f'{time.monotonic() - started:9.3f} {self.arrow} {text}', file=self.out, flush=True)


class Monitor:
    """Listens on ``listen_host:listen_port``; each client that connects is relayed to
    ``to_host:to_port``, one session at a time.

    Raises:
        OSError: the listening address cannot be used.
    """

    def __init__(self, listen_host: str, listen_port: int, to_host: str, to_port: int, *,
                 out: TextIO, save: Optional[TextIO] = None, limits: Limits = DEFAULT_LIMITS,
                 connect_timeout: float = 5.0) -> None:
        self.to = (to_host, to_port)
        self.out = out
        self.save = save
        self.limits = limits
        self.connect_timeout = connect_timeout
        self._listener = listen(listen_host, listen_port)
        self.address = self._listener.getsockname()[:2]
        self._stop = threading.Event()

    def stop(self) -> None:
        """Make :meth:`serve` return (thread-safe)."""
        self._stop.set()

    def serve(self, sessions: Optional[int] = None) -> None:
        """Relay sessions until :meth:`stop` (or after ``sessions`` of them)."""
        done = 0
        try:
            self._listener.settimeout(0.2)
            while not self._stop.is_set() and (sessions is None or done < sessions):
                try:
                    client, address = self._listener.accept()
                except socket.timeout:
                    continue
                done += 1
                self._session(client, format_address(address))
        finally:
            self._listener.close()

    def _session(self, client: socket.socket, peer: str) -> None:
        started = time.monotonic()
        try:
            server = connect(*self.to, timeout=self.connect_timeout)
        except OSError as error:
            print(f'{peer}: cannot reach {format_address(self.to)}: {error}', file=self.out, flush=True)
            close_quietly(client)
            return
        print(f'{peer} -> {format_address(self.to)}: session started', file=self.out, flush=True)
        if self.save is not None:
            self.save.write(f'# tcpbridge monitor: {peer} -> {format_address(self.to)}\n')
        ways = {client: (server, Direction(CLIENT, self.limits, self.out, self.save)),
                server: (client, Direction(SERVER, self.limits, self.out, self.save))}
        selector = selectors.DefaultSelector()
        for sock in ways:
            sock.settimeout(30.0)
            selector.register(sock, selectors.EVENT_READ, sock)
        reason = 'stopped'
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(0.2):
                    sock = key.data
                    other, direction = ways[sock]
                    data = sock.recv(CHUNK)
                    if not data:
                        raise ConnectionResetError(f'{"client" if sock is client else "server"} closed')
                    other.sendall(data)
                    direction.passed(data, started)
        except OSError as error:
            reason = str(error) or type(error).__name__
        finally:
            selector.close()
            close_quietly(client)
            close_quietly(server)
            totals: List[str] = [f'{d.arrow} {d.bytes} bytes' for _, d in ways.values()]
            print(f'{peer}: session ended ({reason}); {", ".join(totals)}', file=self.out, flush=True)
