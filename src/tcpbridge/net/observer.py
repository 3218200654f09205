"""A read-only observer: :class:`ObserverClient` receives a copy of what the client in control of a
plugin sends (tcpbridge extension, docs/protocol.rst §9.2).  Numpy and the standard library only.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Deque, List, Optional

from ..protocol.dialects import Dialect
from ..protocol.messages import (
    OBSERVER,
    Done,
    Message,
    MoveDone,
    PositionIs,
)
from .client import BridgeClient


class ObserverClient(BridgeClient):
    """A read-only watcher of a TCPServer plugin (tcpbridge extension): it receives a copy of every
    data set (``Done``) and position (``position_is`` / ``move_done``) the plugin's client in
    control sends, in the pymodaq4 dialect (names, axes, units), and can command nothing.  Use: a
    second PC or a notebook watching the live data of a running scan.

    The plugin must allow observers (its ``max_observers`` setting); one that does not read fast
    enough is dropped by the plugin (it never slows the client in control) and reconnects.

    Args:
        on_message: called with each :class:`~tcpbridge.protocol.messages.Done`, ``PositionIs`` or
            ``MoveDone``, in the connection thread (or override :meth:`on_message`).
        keep: how many messages :meth:`messages` keeps for polling (the oldest go first).
        Others: see :class:`BridgeClient` (``secret`` and ``tls`` apply as for the other clients).
    """

    client_type = OBSERVER

    def __init__(self, host: str = '127.0.0.1', port: int = 6341, *,
                 on_message: Optional[Callable[[Message], None]] = None, keep: int = 100, **kwargs: Any) -> None:
        kwargs.setdefault('dialect', Dialect.PYMODAQ4)
        super().__init__(host, port, **kwargs)
        self._on_message = on_message
        self._kept: Deque[Message] = deque(maxlen=keep)
        self._kept_lock = threading.Lock()

    def on_message(self, message: Message) -> None:
        """One copy received (connection thread): by default ``on_message=`` if given."""
        if self._on_message is not None:
            self._on_message(message)

    def messages(self) -> List[Message]:
        """The messages received since the last call (at most ``keep``), oldest first (any thread)."""
        with self._kept_lock:
            out = list(self._kept)
            self._kept.clear()
        return out

    def handle(self, message: Message) -> None:
        if isinstance(message, (Done, PositionIs, MoveDone)):
            with self._kept_lock:
                self._kept.append(message)
            self.on_message(message)
        else:
            super().handle(message)
