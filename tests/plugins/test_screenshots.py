"""The plugins' state is visible without opening a log: docs/screenshots/make_screenshots.py drives a
standalone DAQ_Viewer 2D and DAQ_Move through listening, client connected, grab/move, client gone and
an error, saves a screenshot of each, and records what the window showed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qtpy.QtGui import QColor

SCRIPT = Path(__file__).parents[2] / 'docs' / 'screenshots' / 'make_screenshots.py'
#: hue (degrees) of the module's name per link (pymodaq_gui's status palette, any theme): amber, green, orange
NAME_HUES = {'waiting': (38, 60), 'in control': (90, 150), 'gone': (15, 36)}
LINKS = ['waiting', 'in control', 'in control', 'gone', 'gone']  # the link in the states 1 to 5
LINK_OF = {'viewer-6-live-grab': 'in control', 'move-6-lost-mid-move': 'gone'}  # the states 6
EXPECTED = {  # state: (LED on, text in the Status setting, the client's settings shown as stale)
    'viewer-1-listening': (False, 'listening on 127.0.0.1:', False),
    'viewer-2-client-connected': (True, 'client', False),
    'viewer-3-grabbed': (True, 'client', False),
    'viewer-4-client-gone': (False, 'lost: the client quit', True),
    # the client that was there is waited for (docs/guide/resilience.rst)
    'viewer-5-grab-without-client': (False, 'has no client for Send Data 2D at', True),
    'move-1-listening': (False, 'listening on 127.0.0.1:', False),
    'move-2-client-connected': (True, 'client', False),
    'move-3-moved': (True, 'client', False),
    'move-4-client-gone': (False, 'lost: the client quit', True),
    'move-5-move-without-client': (False, 'has no client for move_abs', True),
    # a live Grab: the LED stays readable (the settings tree is enabled in PyMoDAQ 5.3.8's standalone
    # DAQ_Viewer), and the name says it too
    'viewer-6-live-grab': (True, 'client', False),
    'move-6-lost-mid-move': (False, 'lost during move_abs', True),
}

#: tcpbridge module --gui: the link the instrument's window shows (None: the main PC's window)
MODULE_GUI = {'module-1-instrument-connected': ': connected (accepted, in control)',
              'module-2-main-pc-connected': None,
              'module-3-instrument-main-pc-gone': ': disconnected (connection lost'}


def test_each_state_is_visible_in_the_window(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), '--out', str(tmp_path)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    states = json.loads((tmp_path / 'states.json').read_text())
    assert set(states) == set(EXPECTED) | set(MODULE_GUI)
    for name, (led_on, text, stale) in EXPECTED.items():
        state = states[name]
        assert state['led_enabled'], name  # the LED and its tree enabled: a disabled LED is drawn grey
        assert state['led_on'] is led_on, (name, state)
        assert text in state['status'], (name, state)
        assert ('client gone' in state['client_settings']) is stale, (name, state)
        assert (tmp_path / f'{name}.png').stat().st_size > 20_000, name  # a real picture of the window
        low, high = NAME_HUES[LINK_OF.get(name) or LINKS[int(name.split('-')[1]) - 1]]
        assert low <= QColor(state['name_colour']).hue() <= high, (name, state)
    # DAQ_Move's panel is closed by default: its status bar says the client went, and keeps saying it
    assert 'lost: the client quit' in states['move-4-client-gone']['status_bar']
    assert 'has no client for move_abs' in states['move-5-move-without-client']['status_bar']
    assert states['move-6-lost-mid-move']['status_bar'].startswith('Stage lost during move_abs')
    # tcpbridge module --gui: the instrument's window says where it is bridged and how, in its title and
    # in its status bar; the main PC's DAQ_Move_TCPServer shows the hosted stage connected
    for name, link in MODULE_GUI.items():
        state = states[name]
        if link is None:
            assert state['led_on'] and state['summary'].startswith('ACTUATOR 127.0.0.1:'), state
            continue
        assert link in state['title'] and any(link in text for text in state['status_bar_labels']), state
        assert (tmp_path / f'{name}.png').stat().st_size > 10_000, name


SCAN_SCRIPT = SCRIPT.with_name('make_scan_screenshots.py')


def test_scan_gui_says_what_to_do_gives_the_live_plots_room_and_ends_on_a_verdict(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCAN_SCRIPT), '--out', str(tmp_path)], capture_output=True,
                            text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    states = json.loads((tmp_path / 'scan_states.json').read_text())
    start, middle, end = states['scan-1-start'], states['scan-2-middle'], states['scan-3-end']
    assert 'press Start to scan 21 points' in start['title'] and 'press Start' in start['status_bar'][0]
    for state in (start, middle, end):
        assert state['prepare_viewers_led'] == 'True'  # PyMoDAQ's LED state name: green
        plots = state['live_plots']  # their own window, half the 1920x1080 screen's width
        assert plots['visible'] and plots['width'] >= 900 and plots['height'] >= 500, plots
    assert 0 < middle['points'] < 21 and end['points'] == 21
    assert end['status_bar'][0].startswith('Scan000 done: 21 points saved. Press Start for another scan')
    assert states['verdict']['code'] == 0 and states['verdict']['line'].startswith('PASSED: 1 scan(s) checked')
    for name in ('scan-1-start', 'scan-2-middle', 'scan-3-end'):
        for window in ('dashboard', 'daq_scan', 'live_plots'):
            assert (tmp_path / f'{name}-{window}.png').stat().st_size > 10_000
