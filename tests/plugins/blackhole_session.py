"""A dead link, for real: run inside a network namespace of its own (``unshare -rn``), where a
``blackhole`` queueing discipline on ``lo`` silently drops every packet, as a pulled cable, a power cut
or a firewall would.

``unshare -rn python tests/plugins/blackhole_session.py RESULT.json``

The real DAQ_Move_TCPServer plugin (Qt offscreen, PyMoDAQ's config in a temporary folder) and a
client process (``tests/slow_client.py``) connect over loopback with a dead-link time of
:data:`DEAD_LINK_S`; the link goes black while idle (no request outstanding: only keepalive can
tell), then comes back.  What both ends saw, and when, is written to RESULT.json for the test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS))

from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config  # noqa: E402

redirect_pymodaq_config(Path(tempfile.mkdtemp(prefix='tcpbridge-blackhole-pymodaq-')))

DEAD_LINK_S = 3.0
#: the longest wait for anything (s): every wait ends by itself
WAIT_S = 30.0


def wait(condition: Callable[[], object], what: str) -> float:
    """Seconds until ``condition()`` holds, processing Qt events; fails after WAIT_S."""
    from qtpy.QtWidgets import QApplication
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > WAIT_S:
            raise TimeoutError(f'{what}: not within {WAIT_S} s')
        QApplication.processEvents()
        time.sleep(0.01)
    return time.monotonic() - started


def tc(*args: str) -> None:
    subprocess.run(['tc', 'qdisc', *args, 'dev', 'lo', 'root', *(['blackhole'] if args[0] == 'add' else [])],
                   check=True)


def main(result_file: str) -> int:
    from pymodaq.utils.plugin_testing import move_abs_and_wait

    from plugin_helpers import make_tcp_actuator
    from pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer import DAQ_Move_TCPServer

    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    plugin = make_tcp_actuator(DAQ_Move_TCPServer, port_id=0, dead_link_s=DEAD_LINK_S)
    statuses: list = []
    plugin.emit_status = lambda command: statuses.append(str(command.attribute))
    log = Path(result_file).with_suffix('.client.log')
    with open(log, 'w') as output:
        client = subprocess.Popen([sys.executable, str(TESTS / 'slow_client.py'), 'actuator', '--port',
                                   str(plugin.bridge.address[1]), '--dead-link', str(DEAD_LINK_S)],
                                  stdout=output, stderr=output)
    result: dict = {}
    try:
        wait(lambda: plugin.client_connected, 'the client to connect')
        result['before'] = move_abs_and_wait(plugin, 1.0, timeout_ms=10000).value()
        tc('add')
        result['plugin_lost_after_s'] = wait(lambda: any('lost' in s for s in statuses),
                                             'the plugin to declare the link dead')
        result['led_after_loss'] = bool(plugin.settings['connected'])
        result['plugin_status'] = [s for s in statuses if 'lost' in s]
        result['client_lost_after_s'] = result['plugin_lost_after_s'] + \
            wait(lambda: 'the link is dead' in log.read_text(), 'the client to declare the link dead')
        tc('del')
        result['back_after_s'] = wait(lambda: plugin.settings['connected'], 'the client to reconnect (LED on)')
        result['after'] = move_abs_and_wait(plugin, 2.0, timeout_ms=10000).value()
    finally:
        client.terminate()
        result['client_exit'] = client.wait(15)
        result['client_log'] = log.read_text()[-3000:]
        plugin.close()
        Path(result_file).write_text(json.dumps(result))
    return 0


if __name__ == '__main__':
    raise SystemExit(main(sys.argv[1]))
