"""What a TCPServer module shows of its link outside the settings tree, in the layout a user gets
(settings panel closed, or disabled by PyMoDAQ during a Grab).

A plugin may ask its control module to call a method of the module's UI
(``ThreadCommand(ThreadStatus.UPDATE_UI, method, args, kwargs)``, see
``pymodaq.control_modules.utils.ControlModule.thread_status``). Two of them are used:

* ``set_init_color(QColor)``: the colour of the module's name in its toolbar, which PyMoDAQ sets green
  once the plugin is initialised. For a bridge, initialised is not enough: the instrument is the
  remote client. The colour follows PyMoDAQ's shared status palette
  (``pymodaq_gui.utils.status_palette``): *idle* (green) a client is in control, *warning* (amber)
  waiting for the first client, *error* (orange: "an operation failed, may recover") the client in
  control is gone and the plugin waits for another.
* ``update_status(text, wait_time=0)``: the module's status bar (in DAQ_Move's toolbar) keeps the
  last status line until the next one, instead of clearing it after PyMoDAQ's
  ``message_status_persistence`` (about a second), so that "client gone" stays on screen; the news
  comes first in it, the client's address last, as the bar is narrow.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Optional

from pymodaq.control_modules.thread_commands import ThreadStatus
from pymodaq_gui.utils.status_palette import Status, StatusPalette
from pymodaq_utils.utils import ThreadCommand


class Link(Enum):
    """The state of a listening (or dialling) plugin's link, as the name colour shows it."""

    IN_CONTROL = Status.IDLE  #: a client is in control
    WAITING = Status.WARNING  #: no client came yet since the plugin started listening
    GONE = Status.ERROR  #: the client in control left; the plugin waits for another


def link_of(client_in_control: bool, gone: bool) -> Link:
    """The :class:`Link` of a plugin that listens: ``gone`` is True when a client in control left
    and none took its place."""
    if client_in_control:
        return Link.IN_CONTROL
    return Link.GONE if gone else Link.WAITING


def name_colour_command(link: Link) -> ThreadCommand:
    """The command that colours the module's name in its toolbar for ``link``."""
    return ThreadCommand(ThreadStatus.UPDATE_UI, 'set_init_color', args=(StatusPalette.color(link.value),))


#: a status line about one client: "client 127.0.0.1:37456 lost: the client quit"
_ABOUT_A_CLIENT = re.compile(r'^(client \S+) (\S.*)$')


def news_first(text: str) -> str:
    """``text`` with what happened before whom it happened to: ``'client 127.0.0.1:37456 lost: the
    client quit'`` becomes ``'lost: the client quit (client 127.0.0.1:37456)'``.  DAQ_Move's status bar
    sits in its toolbar and cuts a line after about 30 characters in the default layout."""
    match = _ABOUT_A_CLIENT.match(text)
    return f'{match.group(2)} ({match.group(1)})' if match else text


def sticky_status_command(text: str) -> ThreadCommand:
    """The command that shows ``text`` in the module's status bar until the next status, what
    happened first (:func:`news_first`)."""
    return ThreadCommand(ThreadStatus.UPDATE_UI, 'update_status', args=(news_first(text),), kwargs={'wait_time': 0})


class LinkIndicator:
    """Sends :func:`name_colour_command` when the link changes (and once more on demand: PyMoDAQ
    paints the name green when ``ini_detector`` / ``ini_stage`` returns, after the plugin's own
    colour)."""

    def __init__(self) -> None:
        self.shown: Optional[Link] = None

    def update(self, link: Optional[Link]) -> Optional[ThreadCommand]:
        """The command to send for ``link`` (None: not listening, nothing to show), or None when it
        is already shown."""
        if link is None or link == self.shown:
            self.shown = link
            return None
        self.shown = link
        return name_colour_command(link)

    def repaint(self) -> Optional[ThreadCommand]:
        """The command that shows the current link again (None when not listening)."""
        return None if self.shown is None else name_colour_command(self.shown)
