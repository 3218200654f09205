"""The states of one server-side connection and the one table of their transitions (h11's
``_state.py`` is the model: whatever changes a connection's state goes through :func:`next_state`).

::

    HANDSHAKE --hello (secret required)--> AUTHENTICATING --authenticated--> IN_CONTROL / WAITING
    HANDSHAKE --hello--> IN_CONTROL (none in control) / WAITING (one is) / OBSERVING (an observer)
    WAITING --the one in control left--> IN_CONTROL
    any state --refused, lost, quit--> CLOSED

The state is the ``role`` the clients table shows (:attr:`~tcpbridge.protocol.events.ClientInfo.role`):
one vocabulary for both.  Rules that pick *which* transition applies (slots, secret, eviction) are
the session's (:mod:`tcpbridge.protocol.server_session`); this module only says which are legal.
"""
from __future__ import annotations

from enum import Enum
from typing import Dict, Tuple


class ConnectionState(str, Enum):
    """Where a connection stands; a ``str`` (the value) so it prints and compares as the role text.

    HANDSHAKE (``''``): connected, its hello not accepted yet.  AUTHENTICATING: its hello came and the
    plugin requires a shared secret (docs/protocol.rst §9.1).  IN_CONTROL: receives the commands.
    WAITING: takes control when the one in control leaves.  OBSERVING: an observer (a copy of the data
    and positions, commands nothing).  CLOSED: gone.
    """

    HANDSHAKE = ''
    AUTHENTICATING = 'authenticating'
    IN_CONTROL = 'in control'
    WAITING = 'waiting'
    OBSERVING = 'observing'
    CLOSED = 'closed'

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def said_hello(self) -> bool:
        """True once its hello is accepted (it counts as a client of the plugin)."""
        return self in (ConnectionState.IN_CONTROL, ConnectionState.WAITING, ConnectionState.OBSERVING)


class Transition(Enum):
    """What happened to a connection (the column of the transition table)."""

    HELLO_NEEDS_SECRET = 'hello, a shared secret is required'
    TAKE_CONTROL = 'takes control'
    WAIT = 'waits for control'
    OBSERVE = 'observes'
    CLOSE = 'closed'


_S, _T = ConnectionState, Transition
#: (state, transition) -> the next state; a pair not listed is a bug of the session
TRANSITIONS: Dict[Tuple[ConnectionState, Transition], ConnectionState] = {
    (_S.HANDSHAKE, _T.HELLO_NEEDS_SECRET): _S.AUTHENTICATING,
    (_S.HANDSHAKE, _T.TAKE_CONTROL): _S.IN_CONTROL,
    (_S.HANDSHAKE, _T.WAIT): _S.WAITING,
    (_S.HANDSHAKE, _T.OBSERVE): _S.OBSERVING,
    (_S.AUTHENTICATING, _T.TAKE_CONTROL): _S.IN_CONTROL,
    (_S.AUTHENTICATING, _T.WAIT): _S.WAITING,
    (_S.AUTHENTICATING, _T.OBSERVE): _S.OBSERVING,
    (_S.WAITING, _T.TAKE_CONTROL): _S.IN_CONTROL,
    **{(state, _T.CLOSE): _S.CLOSED for state in _S if state is not _S.CLOSED},
}


class InvalidTransition(RuntimeError):
    """A transition the table does not allow: a bug of the session, never caused by a peer (the
    session's fault barrier closes that connection only)."""


def next_state(state: ConnectionState, transition: Transition) -> ConnectionState:
    """The state after ``transition`` from ``state``.

    Raises:
        InvalidTransition: the pair is not in :data:`TRANSITIONS`.
    """
    try:
        return TRANSITIONS[state, transition]
    except KeyError:
        raise InvalidTransition(f'{transition.value!r} is not allowed from {state.name}') from None
