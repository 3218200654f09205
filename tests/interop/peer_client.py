"""Runs in a PyMoDAQ 3.6, 4.3 or 4.4 virtual environment: that version's real ``TCPClient`` as a GRABBER or
an ACTUATOR, reacting to the server's commands as that version's DAQ_Viewer / DAQ_Move modules do
(their ``process_tcpip_cmds``), against our TCPServer plugin.  Prints one JSON line per event.

usage: python peer_client.py GRABBER|ACTUATOR PORT DIM
"""
import json
import os
import sys
import threading
from collections import OrderedDict

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
threading.Timer(120, os._exit, [3]).start()  # bounded: never outlive the test

import numpy as np  # noqa: E402
from qtpy import QtWidgets  # noqa: E402

app = QtWidgets.QApplication([])

import pymodaq  # noqa: E402

V4 = not pymodaq.__version__.startswith('3.')
if V4:
    from pymodaq.utils.daq_utils import ThreadCommand
    from pymodaq.utils.data import Axis, DataActuator, DataFromPlugins, DataToExport
    from pymodaq.utils.parameter import Parameter, ioxml
    from pymodaq.utils.tcp_ip.tcp_server_client import TCPClient
else:
    from pymodaq.daq_utils.daq_utils import ThreadCommand
    from pymodaq.daq_utils.parameter import ioxml
    from pymodaq.daq_utils.tcp_server_client import TCPClient
    from pyqtgraph.parametertree import Parameter

role, port, dim = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def say(**event):
    print(json.dumps(event), flush=True)


def attribute(command):
    return command.attribute if V4 else command.attributes


if role == 'GRABBER':
    settings = Parameter.create(name='detector_settings', type='group', children=[
        {'title': 'Exposure:', 'name': 'exposure', 'type': 'float', 'value': 10.0},
        {'title': 'Mode:', 'name': 'mode', 'type': 'list', 'value': 'fast', 'limits': ['fast', 'slow']}])
else:
    settings = Parameter.create(name='move_settings', type='group', children=[
        {'title': 'Units:', 'name': 'units', 'type': 'str', 'value': 'mm'}])

client = TCPClient('127.0.0.1', port, params_state=settings, client_type=role)
client.settings.setName(settings.name())
frames = [0]
position = [0.25]
SHAPES = {'0D': (1,), '1D': (16,), '2D': (8, 12)}


def arrays():
    """Deterministic data, the test knows them: frame n of the counter pattern, and twice it."""
    frames[0] += 1
    shape = SHAPES[dim]
    array = np.arange(np.prod(shape), dtype=float).reshape(shape) + frames[0]
    return [array, 2 * array]


def data_ready():
    if V4:  # a 4.4 viewer sends its whole DataToExport: names, labels, units, axes
        axes = [Axis('wavelength', 'nm', np.linspace(500, 515, 16), index=0)] if dim == '1D' else []
        return DataToExport('peer', data=[DataFromPlugins('spectrum', data=arrays(), labels=['a', 'b'], units='V',
                                                          axes=axes)])
    return [OrderedDict(name='peer', data=arrays())]  # a 3.x viewer: the arrays of its first data group


def position_value():
    return DataActuator(data=position[0], units='mm') if V4 else position[0]


def on_command(command):
    name = command.command
    if name in ('connected', 'disconnected', 'Update_Status'):
        return
    if 'Send Data' in name:
        client.queue_command(ThreadCommand('data_ready', data_ready()))
        say(event='sent', command=name, frame=frames[0])
    elif name == 'set_info':
        path, xml = attribute(command)
        param = Parameter.create(**ioxml.XML_string_to_parameter(xml)[0])
        # what the 3.x/4.x modules do: settings.child('detector_settings' | 'move_settings', *path[1:])
        target = client.settings.child(*path[1:])
        target.restoreState(param.saveState())
        say(event='set_info', path=list(path), value=target.value())
    elif name in ('move_abs', 'move_rel', 'move_home'):
        value = attribute(command)[0] if name != 'move_home' else 0.0
        value = float(value.value()) if V4 and name != 'move_home' else float(value)
        position[0] = value if name != 'move_rel' else position[0] + value
        units = getattr(attribute(command)[0], 'units', '') if V4 and name != 'move_home' else ''
        say(event=name, position=position[0], units=units)
        client.queue_command(ThreadCommand('move_done', [position_value()]))
    elif name == 'check_position' or (V4 and name == 'get_actuator_value'):
        say(event=name)
        client.queue_command(ThreadCommand('position_is', [position_value()]))
    else:
        say(event='ignored', command=name)  # stop_motion (both), get_actuator_value (3.x): ignored


def after_hello():
    """What the modules send on their own: Info_xml when a setting changes, axes (3.x), an Info."""
    if role == 'GRABBER':
        param = client.settings.child('exposure')
        param.setValue(25.0)
        client.queue_command(ThreadCommand('send_info', dict(path=['detector_settings', 'exposure'], param=param)))
        if not V4 and dim == '1D':
            client.queue_command(ThreadCommand('x_axis', [dict(data=np.linspace(500, 515, 16), label='wavelength',
                                                                units='nm')]))
    client.send_info_string('serial', f'PEER-{pymodaq.__version__}')
    say(event='hello_done', version=pymodaq.__version__)


client.cmd_signal.connect(on_command)
original_post_init = client.post_init


def post_init(extra_commands=()):
    original_post_init(extra_commands)
    after_hello()


client.post_init = post_init
client.init_connection()  # blocks in TCPClient's polling loop until the connection ends
say(event='closed')
os._exit(0)
