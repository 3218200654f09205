"""The client's settings and Info lines in the plugin's tree, mirrored both ways.

The client sends its settings tree (``Infos``, XML), changes of one setting (``Info_xml``) and
name/value lines (``Info``); they show under *Settings Client* and *Infos Client*.  A setting the
user edits there goes back to the client as ``set_info`` (docs/protocol.rst §2.3), never echoed
back and forth.  A PyMoDAQ 5.0/5.1 module must echo what it applied: one that does not within
:data:`SET_INFO_ECHO_S` gets its previous value shown again.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from pymodaq_gui.parameter import Parameter, ioxml
from qtpy.QtCore import QTimer

from tcpbridge.wire import Info, Infos, InfoXml, Message, SetInfo, parse_parameter_xml, parse_settings_xml

from .plugin_settings import PYMODAQ5_LIMITS

#: the title of the client's settings once it has left (they are its last values, not live ones)
STALE_SETTINGS_TITLE = 'Settings Client (client gone, last values):'
LIVE_SETTINGS_TITLE = 'Settings Client:'
#: names a client may add to "Infos Client" (further ones are refused with a status)
MAX_INFOS = 64
#: seconds a PyMoDAQ 5.0/5.1 module has to echo a set_info (5.0 does, 5.1 cannot apply it)
SET_INFO_ECHO_S = 3.0


class ClientSettingsMirror:
    """The ``settings_client`` and ``infos`` groups of a plugin's ``settings``, kept equal to the
    client's.  Runs in the plugin's thread.

    Args:
        settings: the plugin's settings (with the ``settings_client`` and ``infos`` groups).
        status: ``status(text, error)`` shows a line in the plugin's status.
        on_changed: called after the client's settings changed (e.g. the actuator reads its units).
    """

    def __init__(self, settings: Parameter, status: Callable[[str, bool], None],
                 on_changed: Callable[[], None]) -> None:
        self._settings = settings
        self._status = status
        self._on_changed = on_changed
        self._root = ''  # the client's root group: set_info paths start with it
        self._from_client: Dict[tuple, Any] = {}  # path -> the value last received (not echoed back)
        self._unconfirmed: Dict[tuple, Any] = {}  # path -> previous value of a set_info not echoed yet

    @property
    def group(self) -> Parameter:
        """The ``settings_client`` group."""
        return self._settings.child('settings_client')

    def forget_values(self) -> None:
        """A new server starts: no value is known to come from a client."""
        self._from_client = {}
        self._unconfirmed = {}

    def apply(self, message: Message) -> bool:
        """Show ``message`` if it is an ``Infos``, ``Info_xml`` or ``Info``; returns False for any
        other message (not one of these)."""
        if isinstance(message, Infos):
            self.apply_infos(message.xml)
        elif isinstance(message, InfoXml):
            self._apply_info_xml(message)
        elif isinstance(message, Info):
            self._apply_info(message)
        else:
            return False
        return True

    def clear_infos(self) -> None:
        """The client in control changed: its Info lines described the previous one."""
        self._settings.child('infos').clearChildren()

    def mark_stale(self) -> None:
        """No client is left: the settings shown are its last values."""
        self.group.setOpts(title=STALE_SETTINGS_TITLE)

    def apply_infos(self, xml: str) -> None:
        """Show the client's settings tree (``Infos`` XML); a bad tree is refused with a status."""
        try:
            self._root, params = parse_settings_xml(xml)
            group = self.group
            if _structure(group.saveState().get('children', {}).values()) == _structure(params):
                # same tree as before (e.g. the client reconnected): update the values only, which
                # PyMoDAQ's UI mirrors (it does not mirror removed children)
                for path, value in _leaf_values(params, ()):
                    group.child(*path).setValue(value)
            else:
                group.clearChildren()
                group.addChildren(params)
        except Exception as error:  # bad XML (MalformedPayload), or a tree PyMoDAQ cannot build
            self._status(f'client settings (Infos) rejected: {error}', True)
            return
        self._from_client = {tuple(path): value for path, value in _leaf_values(params, ())}
        self.group.setOpts(title=LIVE_SETTINGS_TITLE)
        self._on_changed()

    def commit(self, param: Parameter, send: Callable[[Message], bool], must_echo: Callable[[], bool]) -> bool:
        """PyMoDAQ's ``commit_settings`` for the client's settings: the user's edit of ``param`` goes to
        the client as ``set_info`` through ``send`` (False: no client took it), unless it is the
        client's own value coming back.  ``must_echo()``: the client in control must echo what it
        applied (a PyMoDAQ 5.0/5.1 module); without an echo in time its previous value is shown again.

        ``param`` is ours, or the module's copy of it: PyMoDAQ's ``PluginBase.update_settings`` passes the
        parameter of the module's (GUI) tree to ``commit_settings``, after setting our copy's value.

        Returns:
            False if ``param`` is not one of the client's settings (nothing done).
        """
        key = self._path_of(param)
        if key is None:
            return False
        own = self.group.child(*key)
        if self._from_client.get(key, object()) == own.value():
            return True  # the client's own value coming back: do not echo it
        previous = self._from_client.get(key)
        self._from_client[key] = own.value()
        xml = ioxml.parameter_to_xml_string(own)
        message = SetInfo((self._root, *key) if self._root else key, xml.decode() if isinstance(xml, bytes) else xml)
        if not send(message):
            self._status('no client connected: setting not sent', True)
        elif must_echo():  # a 5.0 module echoes what it applied (Info_xml); a 5.1 module cannot apply it
            self._unconfirmed[key] = previous
            QTimer.singleShot(int(SET_INFO_ECHO_S * 1000), lambda: self._check_applied(key))
        return True

    def _path_of(self, param: Parameter) -> Optional[tuple]:
        """The path of ``param`` under the client's settings group, found by names (``param`` may belong
        to another tree: the module's), or None if it is not one of the client's settings."""
        names: List[str] = []
        node: Optional[Parameter] = param
        while node is not None:
            names.append(node.name())
            node = node.parent()
        names.reverse()
        if 'settings_client' not in names:
            return None
        key = tuple(names[names.index('settings_client') + 1:])
        if not key:
            return None
        try:
            self.group.child(*key)
        except KeyError:
            return None
        return key

    def _apply_info_xml(self, message: InfoXml) -> None:
        path = tuple(message.path[1:])  # Info_xml paths include the client's root group (docs/protocol.rst §2.3)
        try:
            value = parse_parameter_xml(message.xml).get('value')
            param = self.group.child(*path)
        except Exception as error:
            self._status(f'client setting {"/".join(path)} not applied: {error}', True)
            return
        self._from_client[path] = value
        self._unconfirmed.pop(path, None)
        param.setValue(value)
        self._on_changed()

    def _apply_info(self, message: Info) -> None:
        group = self._settings.child('infos')
        names = [c.name() for c in group.children()]
        if message.name in names:
            group.child(message.name).setValue(message.value)
        elif len(names) >= MAX_INFOS:
            self._status(f'client Info {message.name!r} not shown: "Infos Client" holds {MAX_INFOS} '
                         'entries already', True)
            return
        else:
            group.addChild({'title': f'{message.name}:', 'name': message.name, 'type': 'str',
                            'value': message.value, 'readonly': True})
        if message.name == 'error':
            self._status(f'client reports: {message.value}', True)

    def _check_applied(self, path: tuple) -> None:
        """A PyMoDAQ 5.0/5.1 module did not echo a set_info: it did not apply it; show the value it has."""
        if path not in self._unconfirmed:
            return
        previous = self._unconfirmed.pop(path)
        self._status(f'the PyMoDAQ 5.x module did not apply {"/".join(path)} within {SET_INFO_ECHO_S:g} s: '
                     f'{PYMODAQ5_LIMITS}', True)
        if previous is not None:
            self._from_client[path] = previous
            self.group.child(*path).setValue(previous)


def _structure(params: Any) -> List[tuple]:
    """Names and types of a parameter tree (dicts as parsed, or ``Parameter.saveState`` dicts)."""
    return [(p['name'], p['type'], _structure(p['children'].values() if isinstance(p.get('children'), dict)
                                              else p.get('children', [])))
            for p in params]


def _leaf_values(params: Sequence[dict], prefix: tuple) -> Iterator[Tuple[tuple, Any]]:
    for param in params:
        path = prefix + (param['name'],)
        if param.get('type') == 'group':
            yield from _leaf_values(param.get('children', []), path)
        else:
            yield path, param.get('value')
