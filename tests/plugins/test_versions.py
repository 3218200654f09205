"""The PyMoDAQ release check: one line for a release outside the tested range, nothing within it."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from importlib import metadata

import pytest

from pymodaq_plugins_tcpbridge import versions


@pytest.mark.parametrize('version', ['5.3.8', '5.3.9', '5.3.10.post1'])
def test_tested_releases_say_nothing(version: str) -> None:
    assert versions.unsupported_message(version) is None


@pytest.mark.parametrize('version, word', [('5.1.13', 'not supported'), ('5.2.12', 'not supported'),
                                           ('5.3.2', 'not supported'), ('4.4.11', 'not supported'),
                                           ('5.4.0rc1', 'untested'), ('6.0', 'untested')])
def test_other_releases_get_one_line(version: str, word: str) -> None:
    message = versions.unsupported_message(version)
    assert message is not None and '\n' not in message and version in message and word in message
    assert 'tested: 5.3.8 to 5.3.x' in message


def test_the_installed_release_is_checked(caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    monkeypatch.setattr(metadata, 'version', lambda name: '5.1.13')
    with caplog.at_level(logging.WARNING):
        versions.warn_if_unsupported()
    assert [r.getMessage() for r in caplog.records if 'PyMoDAQ 5.1.13 is not supported' in r.getMessage()]


def test_the_release_this_suite_runs_with_is_tested() -> None:
    """CI runs the tests with a tested release."""
    assert versions.unsupported_message(metadata.version('pymodaq')) is None


def test_loading_a_plugin_with_an_untested_pymodaq_says_so_once(tmp_path) -> None:
    """The line is written when the first plugin module loads (the dashboard's plugin discovery)."""
    code = ('from pathlib import Path\n'
            'from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config\n'
            f'redirect_pymodaq_config(Path({str(tmp_path)!r}))\n'
            'from importlib import metadata\n'
            'real = metadata.version\n'
            "metadata.version = lambda name: '5.9.0' if name == 'pymodaq' else real(name)\n"
            'import pymodaq_plugins_tcpbridge.daq_move_plugins.daq_move_TCPServer\n'
            'import pymodaq_plugins_tcpbridge.daq_viewer_plugins.plugins_2D.daq_2Dviewer_TCPServer\n')
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, 'QT_QPA_PLATFORM': 'offscreen'})
    assert run.returncode == 0, run.stderr
    assert (run.stdout + run.stderr).count('PyMoDAQ 5.9.0 is untested') == 1, run.stdout + run.stderr
