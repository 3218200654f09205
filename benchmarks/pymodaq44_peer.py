"""Runs in PyMoDAQ 4.4.11's own virtual environment (``bench_pymodaq44.py`` makes it): PyMoDAQ 4.4's
bridge measured as ``bench_plugins.py`` measures ours.  The server is 4.4's TCPServer plugin
(pymodaq_plugins_mock 4.4.5), the client 4.4's ``TCPClient`` in a process of its own, answering
``Send Data`` with a fixed frame (or ``move_abs`` with ``move_done``) as 4.4's DAQ_Viewer / DAQ_Move do.
A bare loopback socket moving the same bytes is measured in the server process, interleaved.

usage: python pymodaq44_peer.py server 0D|1D|2D|move COUNT REPEATS   (prints one JSON line)
       python pymodaq44_peer.py client GRABBER|ACTUATOR PORT SHAPE    (started by the server)
"""
import json
import os
import subprocess
import sys
import threading
import time

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
threading.Timer(1500, os._exit, [3]).start()  # bounded: never outlive the benchmark

import numpy as np  # noqa: E402
from qtpy import QtCore, QtWidgets  # noqa: E402

app = QtWidgets.QApplication([])

from baseline import bare_transfer, socket_pair  # noqa: E402 (stdlib + numpy: importable in this venv)
from pymodaq.utils.daq_utils import ThreadCommand  # noqa: E402
from pymodaq.utils.data import DataActuator, DataFromPlugins, DataToExport  # noqa: E402
from pymodaq.utils.parameter import Parameter  # noqa: E402
from report import rss_mib  # noqa: E402

SHAPES = {'0D': (1,), '1D': (1000,), '2D': (2048, 2048)}
DTYPES = {'0D': np.float64, '1D': np.float64, '2D': np.uint16}


def client(role, port, dim):
    from pymodaq.utils.tcp_ip.tcp_server_client import TCPClient
    name = 'detector_settings' if role == 'GRABBER' else 'move_settings'
    children = [{'title': 'Units:', 'name': 'units', 'type': 'str', 'value': 'mm'}] if role == 'ACTUATOR' else []
    settings = Parameter.create(name=name, type='group', children=children)
    tcp = TCPClient('127.0.0.1', port, params_state=settings, client_type=role)
    tcp.settings.setName(name)
    frame = (np.arange(int(np.prod(SHAPES[dim])), dtype=DTYPES[dim]) * 7).reshape(SHAPES[dim]) \
        if role == 'GRABBER' else None

    def on_command(command):
        if 'Send Data' in command.command:
            tcp.queue_command(ThreadCommand('data_ready', DataToExport('peer', data=[
                DataFromPlugins('frame', data=[frame])])))
        elif command.command == 'move_abs':
            tcp.queue_command(ThreadCommand('move_done', [DataActuator(data=float(command.attribute[0].value()),
                                                                       units='mm')]))
        elif command.command in ('check_position', 'get_actuator_value'):
            tcp.queue_command(ThreadCommand('position_is', [DataActuator(data=0.0, units='mm')]))
    tcp.cmd_signal.connect(on_command)
    tcp.init_connection()  # 4.4's polling loop, until the connection ends
    os._exit(0)


def wait(condition, timeout_s):
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError('condition not met in time')
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.WaitForMoreEvents)


def server(case, count, repeats):
    role = 'ACTUATOR' if case == 'move' else 'GRABBER'
    if role == 'GRABBER':
        module = __import__(f'pymodaq_plugins_mock.daq_viewer_plugins.plugins_{case}.daq_{case}viewer_TCPServer',
                            fromlist=['x'])
        plugin = getattr(module, f'DAQ_{case}Viewer_TCPServer')()
    else:
        from pymodaq_plugins_mock.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer
        plugin = DAQ_Move_TCPServer()
    done: list = []
    plugin.emit_status = lambda status: done.append(time.perf_counter()) if status.command == 'move_done' else None
    if role == 'GRABBER':
        plugin.data_ready = lambda data: done.append(time.perf_counter())
    plugin.settings.child('socket_ip').setValue('127.0.0.1')
    plugin.settings.child('port_id').setValue(0)
    (plugin.ini_detector if role == 'GRABBER' else plugin.ini_stage)()
    port = plugin.serversocket.getsockname()[1]
    peer = subprocess.Popen([sys.executable, __file__, 'client', role, str(port), case if role == 'GRABBER' else '0D'])
    try:
        wait(lambda: any(c['type'] == role for c in plugin.connected_clients), 60)
        time.sleep(0.5)
        nbytes = int(np.prod(SHAPES.get(case, (1,)))) * np.dtype(DTYPES.get(case, np.float64)).itemsize
        a, b = socket_pair()
        payload = bytes(nbytes)

        def one():
            mark = len(done)
            start = time.perf_counter()
            if role == 'GRABBER':
                plugin.grab_data()
            else:
                plugin.move_abs(DataActuator(data=1.5, units='mm'))
            wait(lambda: len(done) > mark, 60)
            return done[-1] - start
        one()  # warm-up
        baseline, peak = rss_mib(), 0.0
        results = {'seconds': [], 'bare_seconds': [], 'each': []}
        for _ in range(repeats):
            each = [one() for _ in range(count)]
            peak = max(peak, rss_mib())
            results['each'] += each
            results['seconds'].append(sum(each))
            results['bare_seconds'].append(sum(bare_transfer(a, b, payload) for _ in range(count)))
        results.update(rss_baseline_mib=baseline, rss_peak_mib=peak, nbytes=nbytes,
                       version=__import__('pymodaq').__version__)
        print(json.dumps(results), flush=True)
    finally:
        peer.kill()
    os._exit(0)  # 4.4's server threads and timers end with the process


if __name__ == '__main__':
    if sys.argv[1] == 'client':
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        server(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
