"""The client library's connection handling, common to every role: a remote program plugs into
PyMoDAQ as a ``GRABBER`` (:mod:`.grabber`), an ``ACTUATOR`` (:mod:`.actuator`) or an observer
(:mod:`.observer`).

A remote instrument program subclasses :class:`~tcpbridge.GrabberClient` (override ``grab``) or
:class:`~tcpbridge.ActuatorClient` (override ``get_position`` / ``move_abs`` / ``stop_motion``), or
passes callables, then calls :meth:`BridgeClient.run`.  The client connects to the ``TCPServer`` plugin
(retrying while it is not listening), sends its hello and its settings (``Infos``), answers the
server's commands, and reconnects with backoff after a loss.  It waits in ``select``: no busy loop.

With ``listen=True`` the instrument waits for its commander instead (PyMoDAQ#246: an always-on
instrument PC): it listens on ``host:port`` and serves one commander at a time, which may be a
TCPServer plugin set to *connect to instrument* or any program speaking the protocol.  The bytes
exchanged are the same; only who opens the socket changes.

Only numpy and the standard library are used: no Qt, no pymodaq.
"""
from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from typing import Optional, Sequence, Tuple, Union

from ..protocol.client_session import ClientSession
from ..protocol.dialects import Dialect, DwaLayout
from ..protocol.errors import ProtocolError, connection_lost_reason
from ..protocol.limits import DEFAULT_LIMITS, Limits
from ..protocol.messages import (
    Accepted,
    AuthChallenge,
    Message,
    Quit,
    Refused,
    SetInfo,
)
from ..protocol.settings_xml import Param
from .client_settings import ClientSettingsMixin
from .low_water import ReceiveLowWater
from .tls import handshake_problem
from .transport import (
    DEAD_LINK_S,
    Waker,
    close_quietly,
    configure,
    connect,
    format_address,
    keepalive_times,
    listen,
    send_buffers,
)

log = logging.getLogger('tcpbridge.client')
#: a connection that lasted this long (s) and ended cleanly resets the reconnection backoff; a
#: shorter one (e.g. refused by the server after the hello) counts as a failed attempt
STABLE_CONNECTION_S = 10.0
#: seconds a server has to confirm (or refuse) the hello before it is taken for one that does not
#: know ``tcpbridge.status`` (PyMoDAQ 3.x/4.x, a tcpbridge plugin before 0.3) and the client proceeds
ACCEPT_WAIT_S = 3.0


class ConnectionLost(OSError):
    """The server closed the connection."""


class RefusedByServer(ConnectionError):
    """The plugin refused this client: its reason (``tcpbridge.refused``), or the TLS alert it sent
    after the handshake (its client-certificate check).  :meth:`BridgeClient.run` raises it when it
    does not reconnect, or after ``max_attempts`` refusals in a row."""


class BridgeClient(ClientSettingsMixin):
    """Connection handling common to grabbers and actuators.

    Args:
        host: address of the PC running the TCPServer plugin (IPv4, IPv6 or a name); with
            ``listen``: the local address to listen on (``'0.0.0.0'``: every interface).
        port: its port (the plugin's ``port_id``, 6341 by default); with ``listen``, 0 lets the OS
            choose (see :attr:`listen_address`).
        listen: wait for the commander to connect instead of connecting to it.
        secret: a shared secret to authenticate with (tcpbridge extension, for a plugin with an
            ``auth_secret``; over plain TCP it proves who we are, it does not hide the data).
        tls: speak TLS with this context: :func:`tcpbridge.client_context` (connecting: verifies the
            server's certificate and host name, shows ours if given) or, with ``listen``,
            :func:`tcpbridge.server_context`.  None: plain TCP.
        dialect: ``'legacy'`` (arrays and scalars, any PyMoDAQ 3.x/4.0 server and ours) or
            ``'pymodaq4'`` (DataToExport with axes/units; PyMoDAQ 4.1+ servers and ours).
        settings: parameter dicts (``name``, ``type``, ``value``, ``title``, ``limits``, ``units`` or
            ``suffix``, ``min``, ``max``, ``readonly``, ``children``) sent as ``Infos`` and editable from
            PyMoDAQ.
        layout: pymodaq4 DataWithAxes layout to write (4.4 by default; V4_2 for a 4.2/4.3 server).
        connect_timeout: seconds for one connection attempt.
        send_timeout: seconds a send may block before the connection is declared lost.
        dead_link_s: a server that neither answers keepalive probes nor acknowledges what we send for
            this long (s, >= 2) is declared gone and we reconnect (:func:`~tcpbridge.net.transport.configure`).
        reconnect: connect again after a loss (with backoff) until :meth:`stop`; with ``listen``:
            wait for the next commander.
        retry_delay / max_retry_delay: first and largest wait between attempts (doubling), seconds.
        max_attempts: give up after this many failed attempts in a row (None: never); a connection that
            ends on a protocol error before the server sent anything valid (a peer that is not a TCPServer
            plugin), or that the plugin refused, counts as a failed attempt.
        limits: bounds applied to what the server sends.
        confirm_acceptance: ask the plugin whether it accepted the hello (docs/protocol.rst §9.4):
            :attr:`connected` is then set, and "connected" logged, only once it did, and a refusal
            is logged with the plugin's reason.  A server that does not answer within
            ``ACCEPT_WAIT_S`` (PyMoDAQ 3.x/4.x's own) is taken as accepting; pass False for those,
            whose status would show the request as an unknown command.  Never asked with ``listen``:
            the commander dialled us, and may be any program that speaks the protocol.

    :attr:`connected` is set while the plugin has accepted the client (or, not confirming, sent it
    a command or let ``ACCEPT_WAIT_S`` pass).
    """

    client_type = ''
    root_name = 'settings'

    def __init__(self, host: str = '127.0.0.1', port: int = 6341, *, listen: bool = False,
                 tls: Optional[ssl.SSLContext] = None, secret: Optional[str] = None,
                 dialect: Union[str, Dialect] = Dialect.LEGACY,
                 settings: Optional[Sequence[Param]] = None,
                 layout: DwaLayout = DwaLayout.V4_4,
                 connect_timeout: float = 5.0, send_timeout: float = 30.0, dead_link_s: float = DEAD_LINK_S,
                 reconnect: bool = True, retry_delay: float = 0.5, max_retry_delay: float = 10.0,
                 max_attempts: Optional[int] = None, limits: Limits = DEFAULT_LIMITS,
                 confirm_acceptance: bool = True) -> None:
        self.host = host
        self.port = port
        self.listen = listen
        self.tls = tls
        self.listening = threading.Event()
        self._listener: Optional[socket.socket] = None
        self.session = ClientSession(self.client_type, self.root_name, settings or (), Dialect.parse(dialect),
                                     layout, limits, secret=secret,
                                     confirm_acceptance=confirm_acceptance and not listen)
        self.connect_timeout = connect_timeout
        keepalive_times(dead_link_s)  # ValueError now rather than at the first connection
        self.dead_link_s = dead_link_s
        self.send_timeout = send_timeout
        self.reconnect = reconnect
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_attempts = max_attempts
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._interrupted = False
        self._send_lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._connection = 0  # the number of the connection served (of _sock), from 1
        self._heard = False  # the connection served sent at least one valid message
        self._hello_sent = False  # on the connection served
        self._peer = ''  # the address of the connection served
        self._loss = ''  # why the last connection ended
        self._refusal = ''  # why the plugin refused the last connection ('' if it did not)
        self._waker = Waker()

    # -- public API ------------------------------------------------------------------------------
    @property
    def dialect(self) -> Dialect:
        """The dialect this client writes."""
        return self.session.dialect

    @property
    def address(self) -> str:
        return format_address((self.host, self.port))

    @property
    def listen_address(self) -> Tuple[str, int]:
        """``(host, port)`` listened on (the port the OS chose for port 0); set once
        :attr:`listening` is set.

        Raises:
            RuntimeError: not listening.
        """
        if self._listener is None:
            raise RuntimeError('not listening')
        return tuple(self._listener.getsockname()[:2])

    def run(self) -> None:
        """Connect (or wait for a commander), serve the commands, reconnect after losses; return
        after :meth:`stop` (or when ``reconnect`` is False and the connection ends, or
        ``max_attempts`` failed).

        Raises:
            ConnectionError: ``max_attempts`` connection attempts failed in a row (no server, or a peer
                that does not speak the protocol).
            OSError: ``listen`` and the address cannot be listened on.
        """
        with self._waker.signals_wake():
            if self.listen:
                self._run_listening()
            else:
                self._run_connecting()

    def _run_connecting(self) -> None:
        delay, failures, waiting_logged = self.retry_delay, 0, False
        try:
            while not self._stopping.is_set():
                try:
                    sock = self._secure(connect(self.host, self.port, self.connect_timeout, self.dead_link_s))
                except OSError as error:
                    failures += 1
                    if self.max_attempts is not None and failures >= self.max_attempts:
                        if isinstance(error, ssl.SSLError):  # a server is there: TLS failed
                            raise ConnectionError(f'TLS with {self.address} failed ({failures} attempts): '
                                                  f'{handshake_problem(error)}') from error
                        raise ConnectionError(f'no server at {self.address} after {failures} attempts: '
                                              f'{error}') from error
                    if isinstance(error, ssl.SSLError):  # the server is there: say why TLS failed
                        log.warning('TLS with %s failed: %s', self.address, handshake_problem(error))
                        self.link_changed('refused', f'TLS: {handshake_problem(error)}')
                    elif not waiting_logged:
                        log.info('waiting for the server at %s (%s)', self.address, error)
                        self.link_changed('waiting', f'no plugin listening yet ({error})')
                        waiting_logged = True
                    self._pause(delay)
                    delay = min(delay * 2, self.max_retry_delay)
                    continue
                waiting_logged = False
                started = time.monotonic()
                clean = self._serve(sock)
                if self._refusal:  # refused by the plugin: a failed attempt, and no retry without reconnect
                    failures += 1
                    if not self.reconnect or self.max_attempts is not None and failures >= self.max_attempts:
                        raise RefusedByServer(f'{self.address} refused this {self.client_type} client'
                                              + (f' ({failures} attempts)' if failures > 1 else '')
                                              + f': {self._refusal}')
                elif clean or self._heard:
                    failures = 0
                else:  # it sent nothing valid: a peer that is not a TCPServer plugin counts as a failed attempt
                    failures += 1
                    if self.max_attempts is not None and failures >= self.max_attempts:
                        raise ConnectionError(f'{self.address} does not speak the protocol ({failures} attempts): '
                                              f'{self._loss}')
                if clean and time.monotonic() - started >= STABLE_CONNECTION_S:
                    delay = self.retry_delay
                elif self.reconnect and not self._stopping.is_set():
                    # it ended on an error, or at once (a server that refuses us): do not hammer it
                    log.info('connecting again in %g s', delay)
                    self._pause(delay)
                    delay = min(delay * 2, self.max_retry_delay)
                if not self.reconnect:
                    break
        finally:
            self.connected.clear()

    def _pause(self, seconds: float) -> None:
        """Wait before connecting again: ``seconds``, or until :meth:`stop` or a signal."""
        if not self._stopping.is_set():
            self._waker.wait(seconds)
            self._woken()

    def _run_listening(self) -> None:
        self._listener = listen(self.host, self.port, backlog=1)
        self._listener.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._waker.reader, selectors.EVENT_READ)
        self.listening.set()
        log.info('listening on %s for a commander (%s)', format_address(self.listen_address), self.client_type)
        self.link_changed('waiting', f'listening on {format_address(self.listen_address)} for the commander')
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._waker.reader:
                        self._woken()
                        continue
                    try:
                        sock, peer = self._listener.accept()
                        sock.settimeout(self.connect_timeout)  # bounds the TLS handshake
                        sock = self._secure(sock, server_side=True)
                    except ssl.SSLError as error:
                        log.warning('commander from %s refused: %s', format_address(peer), handshake_problem(error))
                        close_quietly(sock)
                        continue
                    except OSError:  # the commander gave up before we accepted it
                        continue
                    log.info('commander connected from %s', format_address(peer))
                    self._serve(sock)
                    if not self.reconnect:
                        if self._refusal:
                            raise RefusedByServer(f'the commander from {format_address(peer)} refused this '
                                                  f'{self.client_type} client: {self._refusal}')
                        return
        finally:
            self.listening.clear()
            self.connected.clear()
            selector.close()
            close_quietly(self._listener)

    def _secure(self, sock: socket.socket, server_side: bool = False) -> socket.socket:
        """``sock`` with its TLS handshake done (blocking, within the socket's timeout), or as it is
        without TLS.  Raises ssl.SSLError (closing ``sock``)."""
        if self.tls is None:
            return sock
        try:
            return self.tls.wrap_socket(sock, server_side=server_side,
                                        server_hostname=None if server_side else self.host)
        except OSError:
            close_quietly(sock)
            raise

    def start(self) -> threading.Thread:
        """Run in a daemon thread; returns the thread."""
        thread = threading.Thread(target=self.run, name=f'tcpbridge-{self.client_type.lower()}', daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Send ``Quit``, close the connection and make :meth:`run` return (thread-safe)."""
        self._stopping.set()
        self._waker.wake()

    def interrupt(self) -> None:
        """Make :meth:`run` return as after :meth:`stop`, from a signal handler: this sets a plain
        flag and wakes the loop, taking no lock.  A handler runs between two bytecodes of the main
        thread, maybe one holding a lock :meth:`stop` takes (it would wait for itself), and an
        exception raised there (KeyboardInterrupt) can fall between a lock's acquire and its
        release and leave the lock taken."""
        self._interrupted = True
        self._waker.wake()

    @property
    def interrupted(self) -> bool:
        """True once :meth:`interrupt` was called."""
        return self._interrupted

    def _woken(self) -> None:
        """The loop's waker was readable: drain it, and stop if interrupted."""
        self._waker.drain()
        if self._interrupted:
            self._stopping.set()

    def send(self, message: Message, connection: Optional[int] = None) -> None:
        """Send one message (thread-safe).

        Args:
            connection: send it only on this connection (:attr:`connection`, read when the request it
                answers came): a reply never goes to a later connection, whose server did not ask for
                it and would take it for the reply to its own request (docs/protocol.rst §8).
                None: on whatever connection is up (pushed data, settings, infos).
        Raises:
            ConnectionLost: not connected, or no longer on ``connection``.
            OSError: the connection broke or the send timed out.
        """
        with self._send_lock:
            if self._sock is None:
                raise ConnectionLost(f'not connected to {self.address}')
            if connection is not None and connection != self._connection:
                raise ConnectionLost(f'connection {connection}, which this message answers, has ended')
            send_buffers(self._sock, self.session.encode(message))

    @property
    def connection(self) -> int:
        """The number of the current (or last) connection, from 1; a new one at each connection."""
        return self._connection

    # -- hooks ------------------------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        """React to one server message (subclasses)."""
        log.warning('ignoring %s from the server', type(message).__name__)

    # -- connection ----------------------------------------------------------------------------
    def _serve(self, sock: socket.socket) -> bool:
        """Serve one connection until it ends; False if it ended on an error (protocol, internal,
        or before our hello went out), True otherwise."""
        try:
            peer = format_address(sock.getpeername()[:2])
            configure(sock, self.dead_link_s)
        except OSError as error:  # reset before we served it
            log.info('connection dropped at once: %s', error)
            close_quietly(sock)
            return False
        sock.settimeout(self.send_timeout)
        with self._send_lock:
            self._sock = sock
            self._connection += 1
        self._heard, self._hello_sent, self._peer, self._refusal = False, False, peer, ''
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        low_water = ReceiveLowWater(sock)
        selector.register(self._waker.reader, selectors.EVENT_READ)
        reason, clean = 'stopped', True
        try:
            with self._send_lock:
                send_buffers(sock, self.session.connection_made(self.settings_xml()))
            self._hello_sent = True
            accept_by = time.monotonic() + (ACCEPT_WAIT_S if self.session.confirm_acceptance else 0.0)
            while not self._stopping.is_set():
                wait = None if self.connected.is_set() else max(0.0, accept_by - time.monotonic())
                for key, _ in selector.select(wait):
                    if key.fileobj is self._waker.reader:
                        self._woken()
                        continue
                    self._receive(sock, low_water)
                if not self.connected.is_set() and time.monotonic() >= accept_by:
                    self._accepted('' if not self.session.confirm_acceptance else
                                   'not confirmed: the server does not answer tcpbridge.status (PyMoDAQ 3.x/4.x?)')
            self._quit()
        except RefusedByServer as error:
            self._refusal = str(error)
            reason, clean = f'refused by the plugin: {error}', False
        except ssl.SSLError as error:  # TLS 1.3: the plugin checks our certificate after the handshake
            if self.connected.is_set():
                reason, clean = connection_lost_reason(error), True
            else:
                self._refusal = f'TLS: {handshake_problem(error)}'
                reason, clean = f'refused by the plugin: {self._refusal}', False
        except ProtocolError as error:
            reason, clean = f'protocol error, closing (the stream cannot be resynchronised): {error}', False
            self._quit()
        except OSError as error:
            reason, clean = connection_lost_reason(error), self._hello_sent
        except Exception as error:  # whatever a server sends must not end the client's thread
            log.exception('while serving %s', peer)
            reason, clean = f'internal error, connection closed: {error!r}', False
            self._quit()
        except BaseException:  # Ctrl+C, SystemExit: leave cleanly, the caller ends the program
            reason = 'stopped'
            self._stopping.set()
            self._quit()
            raise
        finally:
            self.connected.clear()
            with self._send_lock:
                self._sock = None
            selector.close()
            close_quietly(sock)
            retry = '' if self._stopping.is_set() or not self.reconnect else \
                ('; waiting for the next commander' if self.listen else '; reconnecting')
            if not (self._refusal and not self.reconnect):  # else run() raises RefusedByServer: said once
                (log.warning if self._refusal else log.info)('disconnected from %s: %s%s', peer, reason, retry)
            self.link_changed(*(('refused', self._refusal) if self._refusal else ('disconnected', reason)))
            self._loss = reason
        return clean

    def _receive(self, sock: socket.socket, low_water: ReceiveLowWater) -> None:
        """Read what is there (with TLS, also what the TLS layer decrypted already) and dispatch it; a
        large field is read once much of it came (``low_water``)."""
        while True:
            n = sock.recv_into(self.session.receive_buffer())
            if n == 0:
                raise ConnectionLost('the server closed the connection'
                                     + (' in the middle of a message' if self.session.in_message else ''))
            messages = self.session.bytes_received(n)
            self._heard = self._heard or bool(messages)
            low_water.follow(self.session.field_missing)
            for message in messages:
                self._dispatch(message)
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                return

    def _quit(self) -> None:
        """Say ``Quit`` if our hello went out (a server takes no other first message)."""
        if not self._hello_sent:
            return
        try:
            self.send(Quit())
        except OSError:
            pass

    def _on_connected(self) -> None:
        """Subclass hook, called in the connection thread once the plugin accepted the hello."""

    def link_changed(self, state: str, detail: str) -> None:
        """Hook, called in the connection thread when the link changes: ``state`` is ``'waiting'``
        (no plugin yet, or listening for the commander), ``'connected'`` (accepted; ``detail`` says
        how, e.g. ``'accepted, in control'``), ``'refused'`` (``detail``: the plugin's reason) or
        ``'disconnected'`` (``detail``: why).  For a display (``tcpbridge module --gui``'s title)."""

    def _accepted(self, detail: str) -> None:
        """The plugin accepted us (``detail``: how, or why it is assumed): :attr:`connected`."""
        log.info('connected to %s as %s (%s dialect)%s', self._peer, self.client_type, self.dialect.value,
                 f': {detail}' if detail else '')
        self.connected.set()
        self.link_changed('connected', detail or 'accepted')
        self._on_connected()

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, Refused):
            raise RefusedByServer(message.reason)
        if isinstance(message, Accepted):
            if self.connected.is_set():  # a command came first (an actuator's check_position)
                log.debug('the plugin confirms: %s', message.role)
                self.link_changed('connected', f'accepted, {message.role}')
            else:
                self._accepted(f'accepted, {message.role}')
            return
        if not self.connected.is_set() and not isinstance(message, AuthChallenge):
            self._accepted('')  # a command means the hello was accepted
        if isinstance(message, AuthChallenge):
            with self._send_lock:
                if self._sock is not None:
                    send_buffers(self._sock, self.session.answer_challenge(message))
        elif isinstance(message, SetInfo):
            self.apply_set_info(message)
        else:
            self.handle(message)
