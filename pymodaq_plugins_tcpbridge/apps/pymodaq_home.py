"""Point PyMoDAQ's configuration folders at a folder of our choice (tests, demos, ``tcpbridge scan``).

PyMoDAQ 5 writes its system config under ``/etc/.pymodaq`` (``CONFIG_BASE_PATH``) and the user's
under ``~/.pymodaq`` as soon as ``pymodaq_utils.config`` is imported, and has no environment variable
to change that (``pymodaq_utils/config.py`` in 5.3).  :func:`redirect_pymodaq_config` must run before anything imports
pymodaq: it sets ``HOME`` and installs an import hook that executes ``pymodaq_utils.config`` with
``CONFIG_BASE_PATH`` replaced.  Standard library only: importing this module loads no pymodaq.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

_TARGET = 'pymodaq_utils.config'
_ASSIGNMENT = re.compile(r'^CONFIG_BASE_PATH = \(.*?^\)$', re.MULTILINE | re.DOTALL)


class _ConfigLoader(importlib.abc.SourceLoader):
    def __init__(self, origin: str, base: Path) -> None:
        self.origin = origin
        self.base = base

    def get_filename(self, fullname: str) -> str:
        return self.origin

    def get_data(self, path: str) -> bytes:
        source = Path(path).read_text(encoding='utf-8')
        patched, count = _ASSIGNMENT.subn(f'CONFIG_BASE_PATH = Path({str(self.base)!r})', source)
        if count != 1:
            raise ImportError(f'cannot redirect the PyMoDAQ config: CONFIG_BASE_PATH not found in {path}')
        return patched.encode('utf-8')

    def path_stats(self, path: str) -> dict:  # never use a cached bytecode of the unpatched module
        raise OSError


class _ConfigFinder(importlib.abc.MetaPathFinder):
    def __init__(self, base: Path) -> None:
        self.base = base

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        return importlib.util.spec_from_file_location(fullname, spec.origin,
                                                      loader=_ConfigLoader(spec.origin, self.base))


def redirect_pymodaq_config(folder: Path, save_path: Optional[Path] = None) -> Path:
    """Make PyMoDAQ keep its system and user config folders under ``folder`` (created if needed).

    Returns ``folder``.  Sets ``HOME`` (and ``USERPROFILE``) for this process and its children.
    ``save_path``: where PyMoDAQ saves data by default, written into the folder's data config.
    Without it, a folder with no data config yet gets ``folder/data`` (PyMoDAQ's own default is
    ``C:\\Data``, which on Linux is a folder of that name in the current directory); one whose data
    config exists keeps it (the user may have edited it).

    Raises:
        RuntimeError: pymodaq_utils.config was already imported (too late to redirect it).
    """
    if _TARGET in sys.modules:
        raise RuntimeError('pymodaq_utils.config is already imported: redirect the config before '
                           'importing pymodaq')
    folder = Path(folder).resolve()
    (folder / 'home').mkdir(parents=True, exist_ok=True)
    (folder / 'system').mkdir(parents=True, exist_ok=True)
    os.environ['HOME'] = os.environ['USERPROFILE'] = str(folder / 'home')
    data_config = folder / 'home' / '.pymodaq' / 'config' / 'data.toml'
    if save_path is not None or not data_config.exists():
        data_config.parent.mkdir(parents=True, exist_ok=True)
        data_config.write_text('[data_saving.h5file]\nsave_path = '
                               f'{json.dumps(str(Path(save_path or folder / "data").resolve()))}\n')
    if not any(isinstance(f, _ConfigFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ConfigFinder(folder / 'system'))
    return folder
