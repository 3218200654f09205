"""Runs in a PyMoDAQ 5.0 or 5.1 virtual environment: that version's real DAQ_Move or DAQ_Viewer (headless)
with the Mock plugin, connected to our TCPServer plugin through its own "Connect to server" setting
(``main_settings/tcpip``), exactly as a user would tick it.  Prints one JSON line per event; edits one
of its hardware settings when asked on stdin (``edit NAME VALUE``), to be seen on the main PC.

usage: python peer_module5.py move PORT | viewer PORT DAQ0D|DAQ1D|DAQ2D
"""
import json
import os
import sys
import threading

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
threading.Timer(150, os._exit, [3]).start()  # bounded: never outlive the test

from qtpy import QtCore, QtWidgets  # noqa: E402

app = QtWidgets.QApplication([])

import pymodaq  # noqa: E402

kind, port = sys.argv[1], int(sys.argv[2])


def say(**event):
    print(json.dumps(event, default=str), flush=True)


if kind == 'move':
    from pymodaq.control_modules.daq_move import DAQ_Move
    module = DAQ_Move(None, title='remote_stage')
    module.actuator = 'Mock'
    hardware = 'move_settings'
else:
    from pymodaq.control_modules.daq_viewer import DAQ_Viewer
    module = DAQ_Viewer(None, title='remote_detector', daq_type=sys.argv[3])
    module.detector = 'Mock'
    hardware = 'detector_settings'


def on_init(ok):
    say(event='initialised', ok=ok, version=pymodaq.__version__)
    tcpip = module.settings.child('main_settings', 'tcpip')
    tcpip.child('ip_address').setValue('127.0.0.1')
    tcpip.child('port').setValue(port)
    tcpip.child('connect_server').setValue(True)  # what the user ticks: the module connects


def on_tree_changed(_, changes):
    for param, change, data in changes:
        path = module.settings.childPath(param) or []
        if change != 'value':
            continue
        if path[-1:] == ['tcp_connected']:
            say(event='tcp_connected', value=bool(data))
        elif path[:1] == [hardware]:
            say(event='setting', path=path[1:], value=data)


module.init_signal.connect(on_init)
module.settings.sigTreeStateChanged.connect(on_tree_changed)
if kind == 'move':
    module.move_done_signal.connect(lambda value: say(event='move_done', position=float(value.value())))
else:
    module.grab_done_signal.connect(lambda dte: say(event='grabbed', shapes=[list(d.shape) for d in dte]))


class Commands(QtCore.QObject):
    """Lines from stdin (read in a thread), handled in the Qt thread."""

    line = QtCore.Signal(str)


commands = Commands()


def on_line(line):
    words = line.split()
    if words[:1] == ['edit']:
        param = module.settings.child(hardware, *words[1].split('/'))
        param.setValue(json.loads(words[2]))  # a JSON number, string or boolean
        say(event='edited', path=words[1].split('/'), value=param.value())


commands.line.connect(on_line)
threading.Thread(target=lambda: [commands.line.emit(line) for line in sys.stdin], daemon=True).start()
module.init_hardware(True)
app.exec()
