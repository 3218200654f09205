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


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'tcpbridge', *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('args,message', [
    (['grabber', '--dtype', 'foo'], "tcpbridge grabber: error: argument --dtype: 'foo' is not a numeric dtype"),
    (['grabber', '--dim', '1D', '--shape', '10x10'], '--shape 10x10 has 2 dimension(s); --dim 1D needs 1'),
    (['grabber', '--shape', '10xz'], "argument --shape: shape '10xz' is not like 2048x2048"),
    (['grabber', '--dimm', '2D'], 'tcpbridge grabber: error: unrecognized arguments: --dimm 2D'),
    (['actuator', '--speed', 'fast'], "tcpbridge actuator: error: argument --speed: 'fast' is not a number"),
])
def test_command_line_errors_are_one_clear_line(args: list, message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f'tcpbridge {args[0]}: error: ') and message.split(': error: ')[-1] in last
    assert result.stderr.startswith(f'usage: tcpbridge {args[0]}')  # the subcommand's usage, not the top one


def test_help_shows_defaults_without_markup() -> None:
    out = cli('grabber', '--help').stdout
    assert '(default: 6341)' in out and '``' not in cli('--help').stdout
