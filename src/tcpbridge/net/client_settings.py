"""A client's settings as PyMoDAQ shows them (its *Settings Client* group): sent as ``Infos`` at each
connection, changed by the client (``Info_xml``) or by the plugin's user (``set_info``), and
name/value lines for *Infos Client* (``Info``).  Mixed into :class:`~tcpbridge.net.client.BridgeClient`.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, List, Sequence

from ..protocol.client_session import ClientSession
from ..protocol.messages import Info, Message, SetInfo
from ..protocol.settings_xml import Param, settings_to_xml


class ClientSettingsMixin:
    """The settings API of a client: :attr:`settings`, :meth:`setting`, :meth:`set_setting`,
    :meth:`send_info`, and the hooks :meth:`settings_xml`, :meth:`apply_set_info`,
    :meth:`on_setting_changed`."""

    if TYPE_CHECKING:  # what BridgeClient provides
        session: ClientSession
        connected: threading.Event

        def send(self, message: Message) -> None: ...

    @property
    def settings(self) -> List[Param]:
        """Our settings (parameter dicts), as sent in ``Infos``."""
        return self.session.settings

    def send_info(self, name: str, value: Any) -> None:
        """Show ``name = value`` in the plugin's "Infos Client" group (``Info`` message)."""
        self.send(Info(name, str(value)))

    def set_setting(self, path: Sequence[str], value: Any) -> None:
        """Change one of our settings and tell the server (``Info_xml``).

        Raises:
            KeyError: no setting at ``path``.
        """
        message = self.session.change_setting(path, value)
        if self.connected.is_set():
            self.send(message)

    def setting(self, *path: str) -> Any:
        """Value of the setting at ``path``.

        Raises:
            KeyError: no setting at ``path``.
        """
        return self.session.setting(path)

    def settings_xml(self) -> str:
        """The XML of our settings sent as ``Infos`` at each connection (docs/protocol.rst §4.11); override
        to export a settings tree of another origin (e.g. a PyMoDAQ module's)."""
        return settings_to_xml(self.session.root_name, self.session.settings)

    def apply_set_info(self, message: SetInfo) -> None:
        """The server edited one of our settings (``set_info``): apply it, then call
        :meth:`on_setting_changed`; override with :meth:`settings_xml`."""
        applied = self.session.apply_set_info(message)
        if applied is not None:
            self.on_setting_changed(*applied)

    def on_setting_changed(self, path: Sequence[str], value: Any) -> None:
        """Called after the server changed the setting at ``path`` (``set_info``)."""
