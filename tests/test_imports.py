"""tcpbridge (the client library and the CLI) loads neither Qt nor pymodaq."""
from __future__ import annotations

import subprocess
import sys

FORBIDDEN = "[m for m in sys.modules if m.split('.')[0] in ('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', " \
            "'pyqtgraph', 'pymodaq', 'pymodaq_utils', 'pymodaq_gui', 'pymodaq_data')]"


def run(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_loads_no_qt_nor_pymodaq() -> None:
    code = f"import sys, tcpbridge, tcpbridge.server, tcpbridge.demo, tcpbridge.pymodaq_home; print({FORBIDDEN})"
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
