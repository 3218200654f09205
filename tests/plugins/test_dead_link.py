"""A dead link is declared dead on both ends (keepalive, TCP_USER_TIMEOUT), and the client comes back.

The session runs in a network namespace of its own (``unshare -rn``: a user and network namespace,
no privilege needed) whose loopback gets a ``blackhole`` queueing discipline: every packet dropped,
nothing reset, as with a pulled cable or a firewall (``blackhole_session.py``).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SESSION = Path(__file__).with_name('blackhole_session.py')
#: the session's dead-link time (s), and what a loaded machine may add to it
DEAD_LINK_S = 3.0
SLACK_S = 2.0


def _blackhole_available() -> str:
    """'' if this machine can make a namespace with a blackholed loopback, else why not."""
    if shutil.which('unshare') is None or shutil.which('tc') is None:
        return 'unshare or tc (util-linux, iproute2) not installed'
    probe = subprocess.run(['unshare', '-rn', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'blackhole'],
                           capture_output=True, text=True, timeout=30)
    return '' if probe.returncode == 0 else f'no namespace with a blackhole qdisc here: {probe.stderr.strip()}'


def test_a_blackholed_link_is_declared_dead_on_both_ends_and_the_client_comes_back(tmp_path: Path) -> None:
    why_not = _blackhole_available()
    if why_not:
        pytest.skip(why_not)
    result_file = tmp_path / 'result.json'
    run = subprocess.run(['unshare', '-rn', sys.executable, str(SESSION), str(result_file)], capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    result = json.loads(result_file.read_text())
    assert result['before'] == 1.0
    # the plugin: LED off and the cause in the status within the dead-link time (idle: keepalive alone)
    assert result['plugin_lost_after_s'] <= DEAD_LINK_S + SLACK_S, result
    assert result['led_after_loss'] is False
    assert any('the link is dead' in status for status in result['plugin_status']), result['plugin_status']
    # the client: says so too, and reconnects once the network is back; moves work again
    assert result['client_lost_after_s'] <= DEAD_LINK_S + 2 * SLACK_S, result
    assert result['back_after_s'] < 10 and result['after'] == 2.0
    assert result['client_exit'] == 0, result['client_log']
