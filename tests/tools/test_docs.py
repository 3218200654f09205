"""The documentation: the Sphinx site builds without a warning, the paths and protocol sections that
the README, the docs and the code cite exist, and every plugin setting is documented."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = ROOT / 'docs'
#: a repository path written in ``literal`` text: the folders of the tree
CITED_PATH = re.compile(r'``((?:docs|examples|tests|benchmarks|src|pymodaq_plugins_tcpbridge|\.ci)/[\w./-]*)``')
#: a reference into the protocol reference: "docs/protocol.rst §2.3" (several: "§1-2, §6")
PROTOCOL_REF = re.compile(r'protocol\.rst`?`? (§[\d.]+(?:-[\d.]+)?(?:, §[\d.]+(?:-[\d.]+)?)*)')


def _sources(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in ROOT.glob(pattern) if '_build' not in p.parts)


def test_the_site_builds_without_warnings(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
                          str(DOCS), str(tmp_path / 'html')], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    index = (tmp_path / 'html' / 'index.html').read_text(encoding='utf-8')
    assert 'getting-started.html' in index and 'protocol.html' in index
    api = (tmp_path / 'html' / 'api.html').read_text(encoding='utf-8')
    assert 'GrabberClient' in api and 'Raises' in api  # autodoc read the docstrings


@pytest.mark.parametrize('document', _sources('README.rst', 'docs/**/*.rst', 'examples/**/*.md'),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_path_exists(document: Path) -> None:
    text = document.read_text(encoding='utf-8')
    missing = [p for p in CITED_PATH.findall(text) if '_build/' not in p and not (ROOT / p.rstrip('/.')).exists()]
    assert not missing, f'{document.name} cites paths that do not exist: {missing}'
    if document.name == 'README.rst':  # `text <path>`_ links relative to the repository
        links = [link for link in re.findall(r'<([^>]+)>`_', text) if not link.startswith('http')]
        assert links and not [link for link in links if not (ROOT / link).exists()]
    if document.suffix == '.md':  # Markdown links relative to the file
        links = re.findall(r'\]\((?!https?:|#)([^)#]+)', text)
        assert not [link for link in links if not (document.parent / link).exists()]


def _protocol_sections() -> set[str]:
    text = (DOCS / 'protocol.rst').read_text(encoding='utf-8')
    return set(re.findall(r'^\.\. _protocol-([\d.]+):$', text, re.M))


def test_protocol_sections_are_numbered_and_anchored() -> None:
    text = (DOCS / 'protocol.rst').read_text(encoding='utf-8')
    for number in _protocol_sections():
        title = re.search(rf'^\.\. _protocol-{re.escape(number)}:\n\n(.+)$', text, re.M).group(1)
        assert title.startswith(number.rstrip('.') + ('. ' if '.' not in number else ' ')), title


def test_code_cites_existing_protocol_sections() -> None:
    sections = _protocol_sections()
    wrong = []
    for path in _sources('src/**/*.py', 'pymodaq_plugins_tcpbridge/**/*.py', 'tests/**/*.py', 'examples/**/*.*',
                         'benchmarks/*.py', 'docs/**/*.rst', 'README.rst'):
        text = path.read_text(encoding='utf-8', errors='replace')
        assert 'WIRE' + '.md' not in text, f'{path}: cite docs/protocol.rst, the spec in this repository'
        for group in PROTOCOL_REF.findall(text):
            for ref in re.findall(r'§([\d.]+)', group):
                if ref.rstrip('.') not in sections:
                    wrong.append(f'{path.relative_to(ROOT)}: §{ref}')
    assert not wrong, wrong


def test_every_plugin_setting_is_documented() -> None:
    from pymodaq_plugins_tcpbridge.plugin_settings import tcp_parameters

    text = (DOCS / 'guide' / 'plugins.rst').read_text(encoding='utf-8')
    undocumented = [p['name'] for p in tcp_parameters() if f"``{p['name']}``" not in text]
    assert not undocumented
