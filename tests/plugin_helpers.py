"""Helpers for tests of the PyMoDAQ plugins (Qt offscreen, set up by conftest)."""
from __future__ import annotations

from typing import List

from pymodaq.utils.gui_utils.loader_utils import create_load_daq_move
from pymodaq_gui.parameter.utils import get_param_from_name
from qtpy.QtWidgets import QApplication

from helpers import qt_app, wait_until
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_0D.daq_0Dviewer_TCPServer import DAQ_0DViewer_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_1D.daq_1Dviewer_TCPServer import DAQ_1DViewer_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer import DAQ_2DViewer_TCPServer
from pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_ND.daq_NDviewer_TCPServer import DAQ_NDViewer_TCPServer
from pymodaq_plugins_tcpbridge.plugin_settings import LIMITS

VIEWERS = {'0D': DAQ_0DViewer_TCPServer, '1D': DAQ_1DViewer_TCPServer, '2D': DAQ_2DViewer_TCPServer,
           'ND': DAQ_NDViewer_TCPServer}


def _configured(plugin_class, settings: dict):
    qt_app()
    plugin = plugin_class()
    for name, value in settings.items():
        param = get_param_from_name(plugin.settings, name)
        if param is None:
            raise KeyError(f'{plugin_class.__name__} has no setting {name!r}')
        param.setValue(value)
    return plugin


def make_tcp_detector(plugin_class, **settings):
    """PyMoDAQ's ``make_detector`` (``plugin_testing``), each setting found by its name wherever it is in
    the TCPServer plugin's tree (PyMoDAQ's sets top-level ones only; Security and Timeouts and limits
    are groups)."""
    plugin = _configured(plugin_class, settings)
    plugin.init_info, plugin.initialized = plugin.ini_detector(None)
    return plugin


def make_tcp_actuator(plugin_class, **settings):
    """PyMoDAQ's ``make_actuator``, settings found by name as in :func:`make_tcp_detector`."""
    plugin = _configured(plugin_class, settings)
    plugin.init_info, plugin.initialized = plugin.ini_stage(None)
    return plugin


class StatusLog:
    """Records what a plugin emits with ``emit_status`` (the harness has no parent to show it)."""

    def __init__(self, plugin) -> None:
        self.commands: List = []
        plugin.emit_status = self.commands.append

    @property
    def texts(self) -> List[str]:
        return [str(c.attribute) for c in self.commands if c.command == 'update_status']

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        wait_until(lambda: any(text in t for t in self.texts), timeout, f'status containing {text!r}', qt=True)
        return next(t for t in self.texts if text in t)


def wait_connected(plugin, timeout: float = 15.0) -> None:
    """Until a client controls the plugin and its dialect is known (the actuator probe answered)."""
    wait_until(lambda: plugin.client_connected, timeout, 'a client to connect', qt=True)


def wait_disconnected(plugin, timeout: float = 15.0) -> None:
    wait_until(lambda: not plugin.client_connected, timeout, 'the client to leave', qt=True)


def stage_window(reconnect_wait: float):
    """A standalone DAQ_Move with DAQ_Move_TCPServer, initialised, listening on a free port."""
    qt_app()
    shared_ui, move = create_load_daq_move('Stage')
    move.actuator = 'TCPServer'
    move.settings.child('actuator_settings', 'port_id').setValue(0)
    move.settings.child('actuator_settings', LIMITS, 'reconnect_wait').setValue(reconnect_wait)
    inits: List[bool] = []
    move.init_signal.connect(inits.append)
    move.init_hardware_ui(True)
    wait_until(lambda: inits, 30, 'the initialisation', qt=True)
    assert inits[0]
    return shared_ui, move


def close_window(shared_ui, move) -> None:
    """Quit a module made by :func:`stage_window` and close its window."""
    move.quit_fun()
    shared_ui.mainwindow.close()
    QApplication.processEvents()
