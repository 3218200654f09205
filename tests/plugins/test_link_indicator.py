"""The link shows outside the settings tree, in PyMoDAQ 5.3's own DAQ_Move window with its default
layout (settings panel closed): the module's name takes PyMoDAQ's status colours (amber: waiting for
the first client, green: a client in control, orange: the client gone), and the status bar keeps the
last status line instead of clearing it after PyMoDAQ's one-second persistence.  Real plugin, real
client process killed by PID, offscreen Qt."""
from __future__ import annotations

import time

from pymodaq_gui.utils.status_palette import StatusPalette
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QApplication

from helpers import wait_until
from plugin_helpers import close_window, stage_window
from pymodaq_plugins_tcpbridge.link_indicator import news_first
from tcpbridge.commands import ClientProcess


def name_colour(move) -> str:
    """``#rrggbb`` of the module's name in its toolbar."""
    style = move.ui.get_action('name').widget.styleSheet()
    return QColor('#' + style.split('#', 1)[1][-6:]).name() if '#' in style else ''


def palette(state: str) -> str:
    return StatusPalette.color(state).name()


def test_the_module_name_and_status_bar_show_the_link(tmp_path) -> None:
    shared_ui, move = stage_window(reconnect_wait=0)
    stage = None
    try:
        # PyMoDAQ paints an initialised module green; the plugin repaints it: no client yet
        wait_until(lambda: name_colour(move) == palette('warning'), 5, 'the name to show "waiting"', qt=True)
        assert not move.settings['actuator_settings', 'connected']
        port = str(move.controller_and_thread.controller.address[1])
        stage = ClientProcess(['actuator', '--port', port, '--units', 'mm'], tmp_path / 'stage.log')
        wait_until(lambda: name_colour(move) == palette('idle'), 20, 'the name to show "in control"', qt=True)
        assert move.settings['actuator_settings', 'summary'].startswith('ACTUATOR 127.0.0.1:')
        stage.process.kill()
        stage.process.wait(10)
        wait_until(lambda: name_colour(move) == palette('error'), 10, 'the name to show "gone"', qt=True)
        wait_until(lambda: 'lost: ' in move.ui.statusbar.currentMessage(), 5, 'the status bar', qt=True)
        shown = move.ui.statusbar.currentMessage()
        # the status bar of DAQ_Move clears a message after 1 s (message_status_persistence): ours stays
        persistence_over = time.monotonic() + 2.0
        wait_until(lambda: time.monotonic() > persistence_over or move.ui.statusbar.currentMessage() != shown,
                   5, 'PyMoDAQ to clear the status bar', qt=True)
        assert move.ui.statusbar.currentMessage() == shown
        # the news first (the bar is narrow), the same line as the Status setting's
        assert shown.startswith('lost: ') and shown.endswith(')'), shown
        status = move.settings['actuator_settings', 'status'].split(' ', 1)[1]  # after the time
        assert news_first(status.removeprefix('ERROR: ')) == shown
        assert name_colour(move) == palette('error')  # nothing repainted it meanwhile
    finally:
        if stage is not None:
            stage.stop()
        close_window(shared_ui, move)
    QApplication.processEvents()


def test_a_status_about_a_client_puts_the_news_before_the_address() -> None:
    assert news_first('client 127.0.0.1:37456 lost: the client quit') == \
        'lost: the client quit (client 127.0.0.1:37456)'
    assert news_first('client [::1]:6341 speaks legacy') == 'speaks legacy (client [::1]:6341)'
    assert news_first('has no client for move_abs 3 mm') == 'has no client for move_abs 3 mm'
