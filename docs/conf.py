"""Sphinx configuration of the pymodaq_plugins_tcpbridge documentation.

Build (README, *Documentation*): ``python -m sphinx -W -b html docs docs/_build/html``.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'src'))  # autodoc reads the checkout's tcpbridge, installed or not

import tcpbridge  # noqa: E402

project = 'pymodaq_plugins_tcpbridge'
author = 'The pymodaq_plugins_tcpbridge developers'
copyright = '2026, ' + author
release = version = tcpbridge.__version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
    'myst_parser',  # the changelog is Markdown (CHANGELOG.md at the top of the repository)
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
exclude_patterns = ['_build', 'screenshots/*.py']
root_doc = 'index'

html_theme = 'furo'
html_title = f'tcpbridge {release}'
html_static_path: list[str] = []

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'members': True, 'show-inheritance': True}
nitpicky = False
# the Markdown changelog's headings are not link targets
suppress_warnings = ['myst.header']
