"""All benchmarks in one run, printed as one table; ``--docs`` writes that table into docs/performance.rst.

    python benchmarks/run.py [--only plugins,demo,...] [--docs docs/performance.rst] [--json results.json]

Each benchmark runs in its own process (a clean allocator and Qt state) and reports rows of
(system, case, median [min-max], ratio); a ratio is taken within each repeat against the reference
measured beside it, then summarised over the repeats.  Absolute numbers depend on the (shared,
noisy) machine, which the table describes: read the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).parent
#: name -> script, in the order of the table
BENCHMARKS = {'core': 'bench_core.py', 'tls': 'bench_tls.py', 'observers': 'bench_observers.py',
              'plugins': 'bench_plugins.py', 'pymodaq44': 'bench_pymodaq44.py', 'demo': 'bench_demo.py',
              'streaming': 'bench_streaming.py', 'scan': 'bench_scan.py', 'memory': 'bench_memory.py',
              'leco': 'bench_leco.py', 'scale': 'bench_scale.py'}
BEGIN, END = '.. benchmarks-begin', '.. benchmarks-end'


def run(script: str) -> List[Dict[str, object]]:
    """The rows of one benchmark script (its JSON report on stdout, after whatever it printed)."""
    done = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True, timeout=3600,
                          cwd=HERE)
    start = done.stdout.find('{\n')
    if done.returncode or start < 0:
        raise RuntimeError(f'{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}')
    return json.loads(done.stdout[start:])['rows']


def machine() -> str:
    """One line describing where the figures were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        names = re.findall(r'^model name\s*:\s*(.+)$', Path('/proc/cpuinfo').read_text(), re.M)
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = f', load {os.getloadavg()[0]:.1f} at the start' if hasattr(os, 'getloadavg') else ''
    return (f'{time.strftime("%Y-%m-%d")}, {platform.system()} {platform.release()}, {cpu}, '
            f'{os.cpu_count()} cores{load}; Python {platform.python_version()}, PyMoDAQ {metadata.version("pymodaq")}, '
            f'tcpbridge {metadata.version("pymodaq_plugins_tcpbridge")}')


def figure(value: float) -> str:
    """3 significant digits, no exponent for the usual ranges."""
    return f'{value:.3g}' if abs(value) < 1000 else f'{value:.0f}'


def cells(row: Dict[str, object]) -> List[str]:
    value = f'{figure(row["median"])} [{figure(row["min"])}-{figure(row["max"])}] {row["unit"]}' \
        if row['n'] > 1 else f'{figure(row["median"])} {row["unit"]}'
    ratio = ''
    if 'ratio' in row:
        r = row['ratio']
        ratio = f'{r["median"]:.2f} [{r["min"]:.2f}-{r["max"]:.2f}] of {row["ratio_to"]}'
    return [str(row['case']), str(row['system']), value, ratio]


HEADER = ['case', 'system', 'median [min-max]', 'ratio (per repeat)']


def text_table(rows: List[Dict[str, object]]) -> str:
    lines = [HEADER] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def rst_table(rows: List[Dict[str, object]], where: str) -> str:
    """The rows as an RST list-table, preceded by the machine line."""
    out = [f'Measured by ``python benchmarks/run.py --docs docs/performance.rst`` on {where}.', '',
           '.. list-table::', '   :header-rows: 1', '   :widths: 40 22 22 30', '']
    for line in [HEADER] + [cells(r) for r in rows]:
        out.append(f'   * - {line[0]}')
        out += [f'     - {c}' for c in line[1:]]
    return '\n'.join(out)


def write_table(path: Path, table: str) -> None:
    """Replace what lies between the ``benchmarks-begin`` / ``-end`` comments of ``path``."""
    text = path.read_text(encoding='utf-8')
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + '\n\n' + table + '\n\n' + text[end:], encoding='utf-8')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', help=f'comma-separated subset of {",".join(BENCHMARKS)}')
    parser.add_argument('--docs', type=Path,
                        help='write the table into this page, between its benchmarks-begin/-end comments')
    parser.add_argument('--json', type=Path, help='also write every row as JSON here')
    args = parser.parse_args()
    names = args.only.split(',') if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f'unknown benchmarks {sorted(unknown)}; known: {", ".join(BENCHMARKS)}')
    where = machine()
    rows: List[Dict[str, object]] = []
    for name in names:
        print(f'running {BENCHMARKS[name]}...', file=sys.stderr, flush=True)
        rows += run(BENCHMARKS[name])
    print(where)
    print(text_table(rows))
    if args.json:
        args.json.write_text(json.dumps({'machine': where, 'rows': rows}, indent=2))
    if args.docs:
        write_table(args.docs, rst_table(rows, where))


if __name__ == '__main__':
    main()
