"""The client's side of a connection, without I/O: what it says first, how it decodes the server's
commands and encodes its own messages, and its settings (the ``Infos`` it sends, the ``set_info``
the server sends, the ``Info_xml`` it sends when one changes).  The client library
(:mod:`tcpbridge.net.client`) owns the socket, the threads and the reconnection.
"""
from __future__ import annotations

import logging
from typing import Any, List, Optional, Sequence, Tuple

from .auth import response
from .decoder import Decoder, Side
from .dialects import Dialect, DwaLayout
from .encoder import Encoder
from .errors import MalformedPayload
from .grammar import Buffer
from .limits import DEFAULT_LIMITS, Limits
from .messages import (
    OBSERVER,
    AuthChallenge,
    AuthRequest,
    AuthResponse,
    ClientType,
    Infos,
    InfoXml,
    Message,
    SetInfo,
    StatusRequest,
)
from .settings_xml import Param, find_param, parameter_to_xml, parse_parameter_xml, settings_to_xml

log = logging.getLogger('tcpbridge.client')


class ClientSession:
    """A ``GRABBER`` or ``ACTUATOR`` client's protocol state (docs/protocol.rst §2).

    Args:
        client_type: ``'GRABBER'`` or ``'ACTUATOR'``.
        root_name: the name of the settings' root group (``detector_settings`` /
            ``move_settings`` for PyMoDAQ's own clients).
        settings: parameter dicts (see :mod:`tcpbridge.protocol.settings_xml`); copied.
        dialect / layout: how positions and data are written (see :class:`Encoder`).
        limits: bounds applied to what the server sends.
        secret: a shared secret: the client authenticates after its hello (tcpbridge extension,
            :mod:`tcpbridge.protocol.auth`) and sends its settings once challenged; None: it does not.
        confirm_acceptance: ask the server whether it accepted the hello (``tcpbridge.status``,
            docs/protocol.rst §9.4); False for a PyMoDAQ 3.x/4.x server, whose status would show the
            request as an unknown command.

    Raises:
        ValueError: an unknown dialect.
    """

    def __init__(self, client_type: str, root_name: str, settings: Sequence[Param] = (),
                 dialect: Dialect = Dialect.LEGACY, layout: DwaLayout = DwaLayout.V4_4,
                 limits: Limits = DEFAULT_LIMITS, secret: Optional[str] = None,
                 confirm_acceptance: bool = True) -> None:
        self.client_type = client_type
        self.confirm_acceptance = confirm_acceptance
        self.root_name = root_name
        self.settings: List[Param] = [dict(p) for p in settings]
        self.encoder = Encoder(dialect, layout)
        self.limits = limits
        self.secret = secret
        self._unsent_settings: Optional[str] = None  # the Infos held back until the challenge
        self._role = Side.OBSERVER if client_type == OBSERVER else Side.CLIENT
        self._decoder = Decoder(self._role, limits, dialect=dialect)

    @property
    def dialect(self) -> Dialect:
        return self.encoder.dialect

    # -- the connection ----------------------------------------------------------------------------
    def connection_made(self, settings_xml: Optional[str] = None) -> List[Buffer]:
        """A new connection: returns its first bytes (the hello, then the settings as ``Infos``:
        ``settings_xml``, or the XML of :attr:`settings` if None)."""
        self._decoder = Decoder(self._role, self.limits, dialect=self.dialect)
        if settings_xml is None:
            settings_xml = settings_to_xml(self.root_name, self.settings)
        hello = self.encode(ClientType(self.client_type))
        if self.secret:  # the status request and the settings go out once authenticated
            self._unsent_settings = None if self._role is Side.OBSERVER else settings_xml
            return hello + self.encode(AuthRequest())
        if self._role is Side.OBSERVER:  # an observer has no settings to show
            return hello + self._status_request()
        return hello + self._status_request() + self.encode(Infos(settings_xml))

    def _status_request(self) -> List[Buffer]:
        """"Was I accepted?" (docs/protocol.rst §9.4), if :attr:`confirm_acceptance`."""
        return self.encode(StatusRequest()) if self.confirm_acceptance else []

    def answer_challenge(self, challenge: AuthChallenge) -> List[Buffer]:
        """The bytes answering the server's challenge: the response (then the settings held back)."""
        out = self.encode(AuthResponse(response(self.secret or '', challenge.nonce, self.client_type)))
        out += self._status_request()
        if self._unsent_settings is not None:
            out += self.encode(Infos(self._unsent_settings))
            self._unsent_settings = None
        return out

    def receive_buffer(self) -> memoryview:
        """Memory for the next bytes from the server (``recv_into``)."""
        return self._decoder.get_buffer()

    def bytes_received(self, nbytes: int) -> List[Message]:
        """``nbytes`` were written into the last :meth:`receive_buffer`: the commands completed.

        Raises:
            ProtocolError: the server broke the protocol; close the connection.
        """
        self._decoder.buffer_updated(nbytes)
        return self._decoder.pop_messages()

    @property
    def field_missing(self) -> int:
        """Bytes still to come of the large field being received (0: none); see
        :attr:`~tcpbridge.protocol.decoder.Decoder.field_missing`."""
        return self._decoder.field_missing

    @property
    def in_message(self) -> bool:
        """True while part of a server message has been received."""
        return self._decoder.in_message

    def encode(self, message: Message) -> List[Buffer]:
        """The buffers of one message of ours.  Raises EncodeError."""
        return self.encoder.encode(message)

    # -- settings ------------------------------------------------------------------------------------
    def setting(self, path: Sequence[str]) -> Any:
        """Value of the setting at ``path``.  Raises KeyError."""
        return self._param(path).get('value')

    def change_setting(self, path: Sequence[str], value: Any) -> InfoXml:
        """Set the setting at ``path`` here; returns the ``Info_xml`` that tells the server.

        Raises:
            KeyError: no setting at ``path``.
        """
        param = self._param(path)
        param['value'] = value
        return InfoXml((self.root_name, *path), parameter_to_xml(param))

    def apply_set_info(self, message: SetInfo) -> Optional[Tuple[List[str], Any]]:
        """Apply the server's edit of one setting; returns ``(path, value)``, or None (logged) for
        XML that does not parse or a path that is no editable setting of ours."""
        path = list(message.path)
        if len(path) > 1 and path[0] == self.root_name:  # servers prefix the root (docs/protocol.rst §4.12)
            path = path[1:]
        param = find_param(self.settings, path)
        try:
            value = parse_parameter_xml(message.xml).get('value')
        except MalformedPayload as error:
            log.warning('set_info %s ignored: %s', '/'.join(path), error)
            return None
        if param is None or param.get('type') == 'group' or param.get('readonly'):
            log.warning('set_info for %s ignored: no such editable setting', '/'.join(path))
            return None
        param['value'] = value
        log.info('setting %s = %r (from the server)', '/'.join(path), value)
        return path, value

    def _param(self, path: Sequence[str]) -> Param:
        param = find_param(self.settings, path)
        if param is None:
            raise KeyError(f'no setting {"/".join(path)}')
        return param
