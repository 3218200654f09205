"""``redirect_pymodaq_config``: where PyMoDAQ keeps its config and saves its data when a command (or the
tests) give it a folder of its own. Each case in a fresh Python process: the redirection must precede
PyMoDAQ's first import."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: prints where PyMoDAQ's H5Saver saves by default once the config is redirected to argv[1]
#: (argv[2], if given, the save_path asked for)
PROBE = '''
import sys
from pathlib import Path
from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config
redirect_pymodaq_config(Path(sys.argv[1]), *(Path(a) for a in sys.argv[2:]))
from pymodaq_gui.h5modules.saving import config  # the config pymodaq_gui's H5Saver reads its default from
print(config('data', 'data_saving', 'h5file', 'save_path'))
'''


def default_save_path(home: Path, *save_path: Path) -> Path:
    done = subprocess.run([sys.executable, '-c', PROBE, str(home), *map(str, save_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def test_pymodaq_saves_in_the_folder_not_in_a_c_data_folder_of_the_current_directory(tmp_path: Path) -> None:
    assert default_save_path(tmp_path / 'home') == (tmp_path / 'home' / 'data').resolve()


def test_a_save_path_asked_for_wins_and_an_edited_one_is_kept(tmp_path: Path) -> None:
    home = tmp_path / 'home'
    assert default_save_path(home, tmp_path / 'scans') == (tmp_path / 'scans').resolve()
    assert default_save_path(home) == (tmp_path / 'scans').resolve()  # the folder's data config is kept
