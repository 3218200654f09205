"""``tcpbridge check-client``: plays the server for a client under test and drives it through every
command of its role, then reports each step PASS / WARN / FAIL with what was expected and what came
(decoded and in hex, with the byte offset) and the section of ``docs/protocol.rst`` it concerns.

Warnings are known quirks of real peers (PyMoDAQ 3.x/4.x clients ignore ``stop_motion``, PyMoDAQ's
Mock stage never ends ``move_home``...), not failures.  Exit code 0 only if no required step failed.
"""
from __future__ import annotations

import json
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple, Type

from ..net.transport import close_quietly, configure, listen
from ..protocol.data import DataToExport, dim_of_shape
from ..protocol.decoder import Decoder, Side
from ..protocol.dialects import Dialect, DwaLayout
from ..protocol.encoder import Encoder
from ..protocol.errors import ProtocolError
from ..protocol.events import IN_CONTROL
from ..protocol.limits import DEFAULT_LIMITS
from ..protocol.messages import (
    ACTUATOR,
    GRABBER,
    Accepted,
    AxisInfo,
    CheckPosition,
    ClientType,
    Done,
    GetActuatorValue,
    Info,
    Infos,
    InfoXml,
    Message,
    MoveAbs,
    MoveDone,
    MoveHome,
    MoveRel,
    PositionIs,
    Quit,
    SendData,
    SetInfo,
    StatusRequest,
    StopMotion,
    command_string,
    position_value,
)
from ..protocol.settings_xml import Param, parameter_to_xml, parse_settings_xml
from .monitor import summarize

PASS, WARN, FAIL = 'PASS', 'WARN', 'FAIL'
#: sections of docs/protocol.rst
FRAMING = '§1 Framing'
SESSION = '§2.1 Connection and hello'
SERVER_TO_CLIENT = '§2.2 Commands, server to client'
CLIENT_TO_SERVER = '§2.3 Commands, client to server'
DIALECTS = '§6 Telling the dialects apart'
EXTENSIONS = '§9.4 Acceptance and refusal'
ROLES = {'grabber': GRABBER, 'actuator': ACTUATOR}


@dataclass
class Step:
    """The outcome of one step of the check."""

    name: str
    status: str
    detail: str
    section: str = ''
    expected: str = ''
    received: str = ''
    offset: Optional[int] = None
    hex: str = ''


class ClientGone(Exception):
    """The client closed the connection, or its bytes broke the protocol (see :attr:`step`)."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.detail)
        self.step = step


@dataclass
class Conversation:
    """The server side of the check: one connection, our decoder and encoder, what came so far."""

    sock: socket.socket
    timeout: float
    dialect: Optional[Dialect] = None
    layout: Optional[DwaLayout] = None
    decoder: Decoder = field(default_factory=lambda: Decoder(Side.SERVER, DEFAULT_LIMITS))
    offset: int = 0                 # bytes received before the message being decoded
    current: bytearray = field(default_factory=bytearray)  # the first (up to 64) bytes of that message
    current_length: int = 0         # how many bytes of it came so far
    queue: List[Tuple[Message, int, bytes]] = field(default_factory=list)
    failure: Optional[ClientGone] = None  # bad bytes met after the queued messages

    def send(self, message: Message) -> None:
        """Send ``message`` in the client's dialect and DWA layout (as the plugin answers)."""
        self.sock.sendall(Encoder(self.dialect or Dialect.LEGACY, self.layout or DwaLayout.V4_4).encode_bytes(message))

    def receive(self, seconds: Optional[float] = None) -> Optional[Tuple[Message, int, bytes]]:
        """The next message (message, its offset in the stream, its first bytes), or None if none
        came within ``seconds``.  Raises ClientGone."""
        deadline = time.monotonic() + (self.timeout if seconds is None else seconds)
        while not self.queue:
            if self.failure is not None:  # after the messages that came before the bad bytes
                raise self.failure
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                return None
            except OSError as error:
                raise ClientGone(Step('connection', FAIL, f'connection lost: {error}', SESSION)) from None
            if not data:
                raise ClientGone(Step('connection', FAIL, 'the client closed the connection'
                                      + (' in the middle of a message' if self.decoder.in_message else ''),
                                      SESSION))
            self._decode(data)
        return self.queue.pop(0)

    def _decode(self, data: bytes) -> None:
        try:
            sized = self.decoder.feed_sized(data)
            failure: Optional[ProtocolError] = None
        except ProtocolError as error:  # messages completed before the bad bytes are still good
            sized, failure = self.decoder.pop_sized_messages(), error
        position = 0  # where the current message continues in ``data``
        for message, size in sized:
            here = size - self.current_length
            self.queue.append((message, self.offset, (bytes(self.current) + data[position:position + here])[:64]))
            self.offset += size
            position += here
            self.current, self.current_length = bytearray(), 0
        rest = data[position:]
        self.current += rest[:max(0, 64 - len(self.current))]
        self.current_length += len(rest)
        if failure is not None:
            self.failure = ClientGone(Step('decoding', FAIL, f'bytes that break the protocol: {failure}', FRAMING,
                                           received=str(failure), offset=self.offset, hex=self.current.hex(' ')))


class Checker:
    """Drives one client of ``role`` ('grabber' or 'actuator') and collects the steps."""

    def __init__(self, conversation: Conversation, role: str, expected_dialect: Optional[Dialect]) -> None:
        self.talk = conversation
        self.role = role
        self.expected_dialect = expected_dialect
        self.steps: List[Step] = []
        self.settings: List[Param] = []
        self.root = ''

    def step(self, name: str, status: str, detail: str, section: str = '', **more: Any) -> Step:
        result = Step(name, status, detail, section, **more)
        self.steps.append(result)
        return result

    def expect(self, name: str, kinds: Tuple[Type[Message], ...], section: str, seconds: Optional[float] = None,
               on_missing: str = FAIL, missing: str = '') -> Optional[Message]:
        """The next message, which must be one of ``kinds`` (Info / Info_xml in between are noted)."""
        while True:
            got = self.talk.receive(seconds)
            if got is None:
                wanted = ' or '.join(k.command or k.__name__ for k in kinds)
                self.step(name, on_missing, missing or f'no {wanted} within {seconds or self.talk.timeout:g} s',
                          section, expected=wanted, received='nothing')
                return None
            message, offset, head = got
            if isinstance(message, StatusRequest):  # answered as the plugin does
                self.talk.send(Accepted(IN_CONTROL))
                self.step(f'{name}: {StatusRequest.command}', PASS, 'asks whether its hello was accepted: answered',
                          EXTENSIONS)
                continue
            if isinstance(message, (Info, InfoXml, AxisInfo)) and not any(isinstance(message, k) for k in kinds):
                self.step(f'{name}: {command_string(message)}', PASS, summarize(message), CLIENT_TO_SERVER)
                continue
            if isinstance(message, kinds):
                self._learn_dialect(message)
                return message
            self.step(name, FAIL, f'{command_string(message)} came instead', section,
                      expected=' or '.join(k.command or k.__name__ for k in kinds), received=summarize(message),
                      offset=offset, hex=head.hex(' '))
            return None

    def _learn_dialect(self, message: Message) -> None:
        dialect = getattr(message, 'dialect', None)
        if getattr(message, 'layout', None) is not None:
            self.talk.layout = message.layout  # type: ignore[attr-defined]
        if dialect is None or dialect is self.talk.dialect:
            return
        if self.talk.dialect is None:
            self.talk.dialect = dialect
            if self.expected_dialect in (None, dialect):
                self.step('dialect', PASS, f'the client speaks {dialect.value}', DIALECTS)
            else:
                self.step('dialect', FAIL, f'the client speaks {dialect.value}, not {self.expected_dialect.value}',
                          DIALECTS, expected=self.expected_dialect.value, received=dialect.value)
        else:
            self.step('dialect', FAIL, f'{command_string(message)} in {dialect.value} after '
                      f'{self.talk.dialect.value} payloads: one client speaks one dialect', DIALECTS)

    # -- the steps --------------------------------------------------------------------------------
    def run(self, wait_quit: float) -> None:
        try:
            self.hello()
            self.infos()
            if self.role == 'grabber':
                self.grabs()
            else:
                self.moves()
            self.set_infos()
            self.pause()
            self.quit(wait_quit)
        except ClientGone as gone:
            self.steps.append(gone.step)

    def hello(self) -> None:
        got = self.talk.receive()
        if got is None:
            self.step('hello', FAIL, f'no client type within {self.talk.timeout:g} s', SESSION,
                      expected=ROLES[self.role], received='nothing')
            raise ClientGone(Step('connection', FAIL, 'nothing to check without a hello', SESSION))
        message, offset, head = got
        wanted = ROLES[self.role]
        if not isinstance(message, ClientType) or message.client_type != wanted:
            received = repr(message.client_type) if isinstance(message, ClientType) else summarize(message)
            self.step('hello', FAIL, f'the client type must be {wanted!r}', SESSION, expected=repr(wanted),
                      received=received, offset=offset, hex=head.hex(' '))
            raise ClientGone(Step('connection', FAIL, 'a plugin closes a connection of the wrong type', SESSION))
        self.step('hello', PASS, f'{wanted}', SESSION)

    def infos(self) -> None:
        message = self.expect('Infos', (Infos,), SESSION, seconds=min(2.0, self.talk.timeout), on_missing=WARN,
                              missing='no Infos: the plugin will show no settings of this client')
        if not isinstance(message, Infos):
            return
        try:
            self.root, self.settings = parse_settings_xml(message.xml)
        except ProtocolError as error:
            self.step('Infos', FAIL, f'settings XML refused: {error}', SESSION, received=message.xml[:200])
            return
        self.step('Infos', PASS, f'{len(self.settings)} setting(s) in group {self.root!r}', SESSION)
        if self.role == 'actuator' and not any(p['name'] == 'units' for p in self.settings):
            self.step('Infos: units', WARN, "no 'units' setting: the plugin's axis will have no units", SESSION)

    def grabs(self) -> None:
        for dim in ('0D', '1D', '2D', 'ND'):
            self.talk.send(SendData(dim))
            message = self.expect(f'Send Data {dim}', (Done,), SERVER_TO_CLIENT)
            if isinstance(message, Done):
                self.step(f'Send Data {dim}', PASS, summarize(message), CLIENT_TO_SERVER)
                got = _data_dims(message)
                if got and dim != 'ND' and dim not in got:
                    self.step(f'Send Data {dim}: dim', WARN, f'{"/".join(sorted(got))} data answered a {dim} '
                              'request (fine if the detector has one kind of data)', SERVER_TO_CLIENT)

    def moves(self) -> None:
        self.talk.send(CheckPosition())
        start = self._position('check_position', (PositionIs,))
        self.talk.send(GetActuatorValue())
        if self._position('get_actuator_value', (PositionIs,), on_missing=WARN,
                          missing='no position_is: PyMoDAQ 3.6.2 and older only answer check_position') is None:
            self._drain()
        here = start if start is not None else 0.0
        # a plain number: the encoder writes it as the client's dialect wants (scalar or DataActuator)
        for message, target, name in ((MoveAbs(here + 1.0), here + 1.0, 'move_abs'),
                                      (MoveRel(-0.5), here + 0.5, 'move_rel')):
            self.talk.send(message)
            final = self._position(name, (MoveDone,), expected=target)
            if final is not None:
                here = final
        self.talk.send(MoveHome())
        self._position('move_home', (MoveDone,), on_missing=WARN,
                       missing="no move_done after move_home (PyMoDAQ's Mock stage never sends one)")
        self.talk.send(StopMotion())
        if self._position('stop_motion', (MoveDone,), seconds=2.0, on_missing=WARN,
                          missing='no move_done after stop_motion: PyMoDAQ 3.x/4.x clients ignore it; the plugin '
                                  'ends the move itself after 2 s') is None:
            self._drain()

    def _position(self, name: str, kinds: Tuple[Type[Message], ...], expected: Optional[float] = None,
                  seconds: Optional[float] = None, on_missing: str = FAIL, missing: str = '') -> Optional[float]:
        message = self.expect(name, kinds + (PositionIs,) if MoveDone in kinds else kinds, SERVER_TO_CLIENT,
                              seconds, on_missing, missing)
        while isinstance(message, PositionIs) and MoveDone in kinds:  # positions while moving are fine
            message = self.expect(name, kinds + (PositionIs,), SERVER_TO_CLIENT, seconds, on_missing, missing)
        if message is None:
            return None
        value = position_value(message.position)  # type: ignore[attr-defined]
        if isinstance(value, complex):
            self.step(name, FAIL, f'complex position {value}', CLIENT_TO_SERVER)
            return None
        if expected is not None and abs(float(value) - expected) > 1e-6:
            self.step(name, WARN, f'{command_string(message)} {value!r}, the target was {expected!r}',
                      CLIENT_TO_SERVER)
        else:
            self.step(name, PASS, summarize(message), CLIENT_TO_SERVER)
        return float(value)

    def _drain(self) -> None:
        """A late answer to an unanswered request must not be taken for the next one's."""
        while self.talk.receive(0.3) is not None:
            pass

    def set_infos(self) -> None:
        leaves = list(_leaves(self.settings, ()))
        if not leaves:
            self.step('set_info', WARN, 'no editable setting to send', SERVER_TO_CLIENT)
            return
        for path, param in leaves:
            self.talk.send(SetInfo((self.root, *path), parameter_to_xml(param)))
        self.step('set_info', PASS, f'sent for {len(leaves)} setting(s), their values unchanged', SERVER_TO_CLIENT)

    def pause(self) -> None:
        """One second without commands: the client may send Info/Info_xml, nothing else."""
        while True:
            got = self.talk.receive(1.0)
            if got is None:
                self.step('pause', PASS, 'nothing unexpected during 1 s without commands', SESSION)
                return
            message, offset, head = got
            if isinstance(message, (Info, InfoXml, AxisInfo, Done, PositionIs)):
                continue  # echoes of set_info, axes, pushed data, positions: allowed at any time
            self.step('pause', FAIL, f'{command_string(message)} sent unasked', SESSION,
                      received=summarize(message), offset=offset, hex=head.hex(' '))
            return

    def quit(self, seconds: float) -> None:
        if seconds <= 0:
            self.step('Quit', PASS, 'not awaited (--wait-quit 0): the client decides when it leaves', SESSION)
            return
        try:
            message = self.expect('Quit', (Quit,), SESSION, seconds, on_missing=WARN,
                                  missing=f'no Quit within {seconds:g} s')
        except ClientGone:
            self.step('Quit', WARN, 'the connection closed without Quit (the plugin copes with it)', SESSION)
            return
        if message is not None:
            self.step('Quit', PASS, 'Quit, then the connection may close', SESSION)


def _leaves(params: List[Param], prefix: tuple):
    for param in params:
        path = prefix + (param['name'],)
        if param.get('type') == 'group':
            yield from _leaves(param.get('children', []), path)
        elif not param.get('readonly'):
            yield path, param


def _data_dims(message: Done) -> set:
    if isinstance(message.data, DataToExport):
        return {d.dim[4:] for d in message.data.data if d.dim}
    return {dim_of_shape(getattr(a, 'shape', ()))[4:] for a in message.data}


def check_client(role: str, host: str, port: int, *, dialect: Optional[Dialect] = None, timeout: float = 10.0,
                 wait_connect: float = 60.0, wait_quit: float = 0.0,
                 on_listening: Callable[[Tuple[str, int]], None] = lambda address: None) -> List[Step]:
    """Listen on ``host:port``, check the first client that connects, return the steps.

    Raises:
        OSError: the address cannot be listened on.
        TimeoutError: no client connected within ``wait_connect`` seconds.
    """
    listener = listen(host, port)
    try:
        on_listening(listener.getsockname()[:2])
        listener.settimeout(wait_connect)
        try:
            sock, _ = listener.accept()
        except socket.timeout:
            raise TimeoutError(f'no client connected within {wait_connect:g} s') from None
    finally:
        listener.close()
    configure(sock)
    try:
        checker = Checker(Conversation(sock, timeout), role, dialect)
        checker.run(wait_quit)
        return checker.steps
    finally:
        close_quietly(sock)


def report(steps: List[Step], out: TextIO) -> int:
    """Print the table; returns the exit code (0: no FAIL)."""
    width = max((len(s.name) for s in steps), default=4)
    for s in steps:
        print(f'{s.status:4}  {s.name:<{width}}  {s.detail}', file=out)
        if s.status != PASS:
            for label, value in (('expected', s.expected), ('received', s.received),
                                 ('at byte', '' if s.offset is None else str(s.offset)), ('bytes', s.hex),
                                 ('see', f'docs/protocol.rst {s.section}' if s.section else '')):
                if value:
                    print(f'{"":4}  {"":<{width}}  {label}: {value}', file=out)
    counts: Dict[str, int] = {k: sum(s.status == k for s in steps) for k in (PASS, WARN, FAIL)}
    verdict = 'FAILED' if counts[FAIL] else 'PASSED'
    print(f'{verdict}: {counts[PASS]} passed, {counts[WARN]} warning(s), {counts[FAIL]} failed', file=out)
    return 1 if counts[FAIL] else 0


def write_json(steps: List[Step], path: str) -> None:
    with open(path, 'w', encoding='utf-8') as stream:
        json.dump({'steps': [asdict(s) for s in steps],
                   'passed': not any(s.status == FAIL for s in steps)}, stream, indent=2)
