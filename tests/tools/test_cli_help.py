"""``tcpbridge <command> --help``: every default shown once, readable, and none for options without one."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

COMMANDS = ['grabber', 'actuator', 'cert', 'replay', 'monitor', 'check-client', 'scan', 'module']


@pytest.mark.parametrize('command', COMMANDS)
def test_help_shows_each_default_once_and_readably(command: str) -> None:
    result = subprocess.run([sys.executable, '-m', 'tcpbridge', command, '--help'], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    text = ' '.join(result.stdout.split())  # the help wraps lines: compare it as one line
    assert '(default: None)' not in text and '(default: False)' not in text and '(default: [])' not in text
    assert not re.search(r"\(default: \('", text), 'a tuple shown as a default'
    for option in re.split(r'\s(?=--[a-z])', text):
        assert option.count('default:') <= 1, option
