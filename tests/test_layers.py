"""The layers of the project hold: import-linter's contracts (setup.cfg ``[importlinter]``) on the
source, and at run time the client library and the CLI load neither Qt nor pymodaq."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = "[m for m in sys.modules if m.split('.')[0] in ('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', " \
            "'pyqtgraph', 'pymodaq', 'pymodaq_utils', 'pymodaq_gui', 'pymodaq_data')]"


def run(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_contracts_hold() -> None:
    pytest.importorskip('importlinter', reason='import-linter is in the [lint] extra')
    result = subprocess.run([sys.executable, '-m', 'importlinter.cli', '--config', str(ROOT / 'setup.cfg')],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'broken' not in result.stdout.split('Contracts:')[-1].lower().replace('0 broken', '')


def test_import_loads_no_qt_nor_pymodaq() -> None:
    code = ("import sys, tcpbridge, tcpbridge.net.server, tcpbridge.instruments.demo, tcpbridge.tools.transcript; "
            f"print({FORBIDDEN})")
    assert run(code) == '[]'


def test_cli_loads_no_qt_nor_pymodaq() -> None:
    code = ("import sys\nfrom tcpbridge.cli import main\n"
            "code = main(['grabber', '--port', '1', '--once', '--max-attempts', '1'])\n"
            f"print(code, {FORBIDDEN})")
    assert run(code) == '1 []'


def test_help_runs() -> None:
    out = subprocess.run([sys.executable, '-m', 'tcpbridge', 'grabber', '--help'], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and '--push-rate' in out.stdout


def test_scan_command_comes_from_the_plugin_package() -> None:
    code = ("from tcpbridge.cli import app_commands\n"
            "print(app_commands()['scan'].run.__module__)")
    assert run(code) == 'pymodaq_plugins_tcpbridge.apps.scan_command'
