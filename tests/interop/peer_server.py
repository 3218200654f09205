"""Runs in a PyMoDAQ 3.6, 4.3 or 4.4 virtual environment: that version's real TCP server plugin (4.x: the
TCPServer plugins of pymodaq_plugins_mock 4.3.6 / 4.4.5; 3.6: pymodaq's DAQ_Viewer_TCP_server /
DAQ_Move_TCP_server) listening on a free port, driven through a fixed sequence of commands once a
client is connected.  Prints one JSON line per event (the first gives the port).

usage: python peer_server.py GRABBER|ACTUATOR DIM
"""
import json
import os
import sys
import threading

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
threading.Timer(120, os._exit, [3]).start()  # bounded: never outlive the test

import numpy as np  # noqa: E402
from qtpy import QtCore, QtWidgets  # noqa: E402

app = QtWidgets.QApplication([])

import pymodaq  # noqa: E402

V4 = not pymodaq.__version__.startswith('3.')
role, dim = sys.argv[1], sys.argv[2]


def say(**event):
    print(json.dumps(event), flush=True)


if role == 'GRABBER':
    if V4:
        module = __import__(f'pymodaq_plugins_mock.daq_viewer_plugins.plugins_{dim}.daq_{dim}viewer_TCPServer',
                            fromlist=['x'])
        plugin = getattr(module, f'DAQ_{dim}Viewer_TCPServer')()
    else:
        from pymodaq.daq_viewer.utility_classes import DAQ_Viewer_TCP_server
        plugin = DAQ_Viewer_TCP_server(grabber_type=dim)
else:
    if V4:
        from pymodaq.utils.data import DataActuator
        from pymodaq_plugins_mock.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
        plugin = DAQ_Move_TCPServer()
    else:
        from pymodaq.daq_move.utility_classes import DAQ_Move_TCP_server
        plugin = DAQ_Move_TCP_server()

statuses, received = [], []
plugin.emit_status = statuses.append
original_data_ready = getattr(plugin, 'data_ready', None)
if role == 'GRABBER':
    plugin.data_ready = received.append

plugin.settings.child('socket_ip').setValue('127.0.0.1')
plugin.settings.child('port_id').setValue(0)
(plugin.ini_detector if role == 'GRABBER' else plugin.ini_stage)()
say(event='listening', port=plugin.serversocket.getsockname()[1], version=pymodaq.__version__)


def connected():
    return any(c['type'] == role for c in plugin.connected_clients) and \
        len(plugin.settings.child('settings_client').children()) > 0


def describe(data):
    if V4:
        return [dict(name=dwa.name, shape=list(dwa.shape), dtype=str(dwa.data[0].dtype), labels=dwa.labels,
                     units=dwa.units, axes=[[a.label, a.units, int(a.size)] for a in dwa.axes],
                     sums=[float(np.sum(a)) for a in dwa.data], first=float(dwa.data[0].flat[0])) for dwa in data]
    return [dict(shape=list(np.asarray(a).shape), dtype=str(np.asarray(a).dtype), sums=[float(np.sum(a))],
                 first=float(np.asarray(a).flat[0])) for a in data]


def status_values(name):
    found = []
    for status in statuses:
        if status.command == name:
            value = (status.attribute if V4 else status.attributes)[0]
            found.append(float(value.value()) if V4 else float(value))
    return found


def position(value):
    if not V4:
        return value
    units = getattr(plugin, 'axis_unit', None)  # 4.4: DAQ_Move passes targets in the axis units
    return DataActuator(data=value, units=units) if units is not None else DataActuator(data=value)


def set_info(name, value):
    param = plugin.settings.child('settings_client', name)
    param.setValue(value)
    plugin.commit_settings(param)
    say(event='set_info_sent', name=name, value=value)


steps = []
if role == 'GRABBER':
    steps.append((connected, lambda: say(event='connected', settings=[
        c.name() for c in plugin.settings.child('settings_client').children()])))
    for index in range(3):
        steps.append((lambda i=index: len(received) == i, plugin.grab_data))
        steps.append((lambda i=index: len(received) == i + 1,
                      lambda i=index: say(event='data', index=i, data=describe(received[i]))))
    steps.append((lambda: True, lambda: set_info('exposure', 42.0)))
else:
    moves = 'move_abs' if V4 else 'move_Abs', 'move_rel' if V4 else 'move_Rel'
    steps.append((connected, lambda: say(event='connected', units=getattr(plugin, 'axis_unit', ''))))
    steps.append((lambda: True, lambda: getattr(plugin, moves[0])(position(2.5))))
    steps.append((lambda: len(status_values('move_done')) == 1,
                  lambda: say(event='move_done', value=status_values('move_done')[-1])))
    steps.append((lambda: True, lambda: getattr(plugin, moves[1])(position(1.0))))
    steps.append((lambda: len(status_values('move_done')) == 2,
                  lambda: say(event='move_done', value=status_values('move_done')[-1])))
    steps.append((lambda: True, plugin.move_home if V4 else plugin.move_Home))
    steps.append((lambda: len(status_values('move_done')) == 3,
                  lambda: say(event='move_done', value=status_values('move_done')[-1])))
    steps.append((lambda: True, plugin.get_actuator_value))  # sends get_actuator_value (3.6.3+ and 4.x)
    steps.append((lambda: len(status_values('get_actuator_value')) >= 1,
                  lambda: say(event='position', value=status_values('get_actuator_value')[-1])))
    steps.append((lambda: True, lambda: set_info('speed', 3.0)))
steps.append((lambda: True, lambda: say(event='done')))


def tick():
    while steps and steps[0][0]():
        steps.pop(0)[1]()
    if not steps:
        timer.stop()


timer = QtCore.QTimer()
timer.timeout.connect(tick)
timer.start(20)
app.exec_()
