"""An edit of the client's settings in a real DAQ_Move's settings tree (what a dashboard user does) reaches
the client.  PyMoDAQ passes the module's own parameter to the plugin's ``commit_settings``, not the
plugin's copy: the plugin must find the setting by its path."""
from __future__ import annotations

import time

from qtpy.QtWidgets import QApplication

from helpers import qt_app, wait_until
from pymodaq_plugins_tcpbridge.apps.module import close, initialise
from tcpbridge import ActuatorClient


class RecordingStage(ActuatorClient):
    """A bridge client with a nested setting, recording the edits it receives (set_info)."""

    def __init__(self, port: int) -> None:
        super().__init__('127.0.0.1', port, units='mm', instant_moves=True, settings=[
            {'name': 'speed', 'title': 'Speed:', 'type': 'float', 'value': 10.0},
            {'name': 'motor', 'title': 'Motor:', 'type': 'group', 'children': [
                {'name': 'current', 'title': 'Current (A):', 'type': 'float', 'value': 0.5}]}])
        self.edits: list = []

    def get_position(self) -> float:
        return 0.0

    def move_abs(self, target: float) -> float:
        return target

    def on_setting_changed(self, path, value) -> None:
        self.edits.append((tuple(path), value))


def test_a_dashboard_edit_of_the_clients_settings_reaches_the_client() -> None:
    from pymodaq.control_modules.daq_move import DAQ_Move
    qt_app()
    module = DAQ_Move(None, title='edited stage')
    module.actuator = 'TCPServer'
    module.settings.child('actuator_settings', 'port_id').setValue(0)
    initialise(module, 30.0)
    stage = RecordingStage(module.controller_and_thread.controller.address[1])
    thread = stage.start()
    try:
        settings = module.settings.child('actuator_settings', 'settings_client')
        wait_until(lambda: {'speed', 'motor'} <= {c.name() for c in settings.children()}, 20,
                   "the client's settings in the module", qt=True)
        settings.child('speed').setValue(20.0)
        settings.child('motor', 'current').setValue(1.5)
        wait_until(lambda: len(stage.edits) == 2, 20, 'the edits at the client', qt=True)
        assert stage.edits == [(('speed',), 20.0), (('motor', 'current'), 1.5)]
        stage.set_setting(('speed',), 5.0)  # the client's own change comes back: shown, not echoed
        wait_until(lambda: settings['speed'] == 5.0, 20, "the client's change in the module", qt=True)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # long enough for an echo to come back if there were one
            QApplication.processEvents()
            time.sleep(0.01)
        assert stage.edits == [(('speed',), 20.0), (('motor', 'current'), 1.5)]
    finally:
        stage.stop()
        thread.join(10)
        close(module)
