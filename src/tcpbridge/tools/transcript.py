"""Session transcripts: annotated hex dumps of what a client sends (``>``) and what the server sends
back (``<``), generated from our encoder for the protocol walk-through, and played by
``tcpbridge replay`` so that the author of a new client (LabVIEW, C, MATLAB...) can compare.

Format, one field per line (hand-writable)::

    # a comment
    > 00 00 00 07 47 52 41 42 42 45 52        # STR client type = 'GRABBER'
    < 00 00 00 0c 53 65 6e 64 20 44 61 74 61 20 31 44   # STR command = 'Send Data 1D'

``..`` in a ``<`` line matches any byte (timestamps).  Consecutive lines of one direction form one
step: ``>`` steps are sent, ``<`` steps are awaited and compared byte for byte.
"""
from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, TextIO, Tuple

from ..net.transport import close_quietly, connect
from ..protocol.decoder import Decoder, Side
from ..protocol.dialects import DwaLayout
from ..protocol.framing import MessageReader
from ..protocol.grammar import Parse
from ..protocol.limits import DEFAULT_LIMITS

CLIENT, SERVER = '>', '<'
BYTES_PER_LINE = 16
Span = Tuple[int, int, str]


class _Tracer(MessageReader):
    """The decoder's grammar, recording the byte span and meaning of every field it reads."""

    def __init__(self) -> None:
        super().__init__(DEFAULT_LIMITS, DwaLayout.V4_2)
        self.spans: List[Span] = []
        self._inside = 0  # > 0 while inside a SCALAR / NDARRAY (their parts are not listed apart)

    def _record(self, start: int, text: str) -> None:
        if not self._inside:
            self.spans.append((start, self.total, text))

    def string(self, what: str = 'string', limit: Optional[int] = None, n: Optional[int] = None) -> Parse:
        start = self.total - (4 if n is not None else 0)
        value = yield from super().string(what, limit, n)
        self._record(start, f'STR {what} = {value!r}' if len(value) <= 60 else
                     f'STR {what} ({len(value.encode())} bytes) = {value[:40]!r}...')
        return value

    def scalar(self, what: str = 'scalar', dtype_len: Optional[int] = None) -> Parse:
        start = self.total - (4 if dtype_len is not None else 0)
        self._inside += 1
        try:
            value = yield from super().scalar(what, dtype_len)
        finally:
            self._inside -= 1
        self._record(start, f'SCALAR {what} = {value!r}')
        return value

    def array(self) -> Parse:
        start = self.total
        self._inside += 1
        try:
            value = yield from super().array()
        finally:
            self._inside -= 1
        header = self.total - value.nbytes
        self._record(start, f'NDARRAY header: dtype {value.dtype.str!r}, {value.nbytes} bytes, shape {value.shape}')
        self.spans[-1] = (start, header, self.spans[-1][2])
        if value.nbytes:
            self.spans.append((header, self.total, f'  array data, C order: {value.reshape(-1)[:6].tolist()}'
                               + ('...' if value.size > 6 else '')))
        return value

    def count(self, what: str) -> Parse:
        start = self.total
        n = yield from super().count(what)
        self._record(start, f'U32 {what}: {n} item(s)')
        return n

    def dwa(self, class_len: Optional[int] = None) -> Parse:
        before = len(self.spans)
        value = yield from super().dwa(class_len)
        names = ('units', 'source') if self.layout is DwaLayout.V4_4 else ('source', 'dim')
        renames = {'STR units or source': f'STR {names[0]}', 'STR source or dim': f'STR {names[1]}'}
        for index in range(before, len(self.spans)):
            start, end, text = self.spans[index]
            prefix = text.split(' = ')[0]
            if prefix in renames:
                self.spans[index] = (start, end, text.replace(prefix, renames[prefix], 1))
        return value

    def data(self) -> Parse:
        start = self.total
        message = yield from super().data()
        if isinstance(message.data, list):
            self.spans.append((start, start + 4, f'U32 list count: {len(message.data)} item(s)'))
        else:
            self.spans.append((start, start + 16, "STR class = 'DataToExport'"))
        return message


def annotate(data: bytes, role: Side, hello: bool = False) -> List[Span]:
    """The fields of ``data`` (whole messages, sent to a ``role`` decoder) as (start, end, meaning);
    ``hello``: the data start with the client type.

    Raises:
        ProtocolError: bytes that do not decode.
    """
    tracer = _Tracer()
    stream = memoryview(data)
    position = 0
    first = hello
    while position < len(data):
        tracer.reset()
        base = position
        if first:
            generator = tracer.string('client type (hello)', DEFAULT_LIMITS.max_command_bytes)
        else:
            generator = tracer.client_message() if role is Side.SERVER else tracer.server_message()
        first = False
        before = len(tracer.spans)
        need = next(generator)
        try:
            while True:
                chunk = stream[position:position + need]
                position += need
                need = generator.send(bytearray(chunk))
        except StopIteration:
            pass
        tracer.spans[before:] = sorted((s + base, e + base, t) for s, e, t in tracer.spans[before:])
    tracer.spans.sort()
    return [(s, e, t.replace("STR command string = ", "STR command = ")) for s, e, t in tracer.spans]


def render(direction: str, data: bytes, hello: bool = False) -> List[str]:
    """Transcript lines for ``data`` sent in ``direction`` (``>`` client to server, ``<`` back);
    timestamps the server sends are written ``..`` (any byte)."""
    lines = []
    role = Side.SERVER if direction == CLIENT else Side.CLIENT
    for start, end, text in annotate(data, role, hello):
        chunk = data[start:end]
        hexes = [f'{b:02x}' for b in chunk]
        if direction == SERVER and text.startswith('SCALAR timestamp'):
            hexes[-8:] = ['..'] * 8
        for offset in range(0, max(len(hexes), 1), BYTES_PER_LINE):
            part = ' '.join(hexes[offset:offset + BYTES_PER_LINE])
            note = text if offset == 0 else ''
            lines.append(f'{direction} {part:<{3 * BYTES_PER_LINE}} # {note}'.rstrip(' #') if note
                         else f'{direction} {part}')
    return lines


@dataclass
class Step:
    """Consecutive transcript lines of one direction: bytes (None = any byte, ``<`` only)."""

    direction: str
    pattern: List[Optional[int]]
    line: int


def parse(text: str) -> List[Step]:
    """Read a transcript.

    Raises:
        ValueError: a line that is not ``>``/``<`` + hex bytes, or ``..`` in a ``>`` line.
    """
    steps: List[Step] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        direction, _, body = line.partition(' ')
        if direction not in (CLIENT, SERVER):
            raise ValueError(f'line {number}: starts with {direction!r}, expected > or <')
        pattern: List[Optional[int]] = []
        for token in body.split():
            if token == '..' and direction == SERVER:
                pattern.append(None)
                continue
            try:
                value = int(token, 16)
            except ValueError:
                raise ValueError(f'line {number}: {token!r} is not a hex byte') from None
            if len(token) != 2:
                raise ValueError(f'line {number}: {token!r} is not one hex byte (two digits)')
            pattern.append(value)
        if steps and steps[-1].direction == direction:
            steps[-1].pattern.extend(pattern)
        else:
            steps.append(Step(direction, pattern, number))
    return steps


def _read_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(n - len(data))
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def replay(steps: Sequence[Step], host: str, port: int, timeout: float = 60.0,
           out: TextIO = sys.stdout) -> int:
    """Play ``steps`` as a client against the server at ``host:port``, reporting each step.

    Returns 0 when every ``<`` step matched, 1 on a mismatch, 2 when the server closed or did not
    send within ``timeout`` seconds.

    Raises:
        OSError: the connection could not be made.
    """
    sock = connect(host, port, timeout)
    decoder = Decoder(Side.CLIENT)
    try:
        for step in steps:
            if step.direction == CLIENT:
                sock.sendall(bytes(step.pattern))  # type: ignore[arg-type]
                print(f'line {step.line}: sent {len(step.pattern)} bytes', file=out)
                continue
            received = _read_exactly(sock, len(step.pattern), time.monotonic() + timeout)
            try:
                decoded = ', '.join(_describe(m) for m in decoder.feed(received))
            except Exception as error:  # shown, the byte comparison below decides
                decoded = f'undecodable: {error}'
            if len(received) < len(step.pattern):
                print(f'line {step.line}: expected {len(step.pattern)} bytes, got {len(received)} before '
                      f'the server closed or {timeout:g} s passed; {decoded}', file=out)
                return 2
            wrong = next((i for i, (want, got) in enumerate(zip(step.pattern, received))
                          if want is not None and want != got), None)
            if wrong is not None:
                print(f'line {step.line}: MISMATCH at byte {wrong}: expected {step.pattern[wrong]:02x}, '
                      f'got {received[wrong]:02x}; the server sent {decoded}', file=out)
                return 1
            print(f'line {step.line}: OK, the server sent {decoded}', file=out)
    finally:
        close_quietly(sock)
    return 0


def _describe(message: Any) -> str:
    fields = ', '.join(f'{k}={v!r}' for k, v in vars(message).items() if k not in ('dialect', 'layout'))
    return f'{type(message).__name__}({fields})'
