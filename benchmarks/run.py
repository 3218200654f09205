"""All benchmarks in one run: ``python benchmarks/run.py`` prints a JSON report.

Absolute numbers depend on the (shared, noisy) machine: read the ratios, measured side by side.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def run(script: str) -> dict:
    """Each benchmark in its own process (clean allocator and Qt state)."""
    done = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True, timeout=1800,
                          cwd=HERE)
    start = done.stdout.find('{\n')
    if done.returncode or start < 0:
        raise RuntimeError(f'{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}')
    return json.loads(done.stdout[start:])


if __name__ == '__main__':
    print(json.dumps({'core': run('bench_core.py'), 'tls': run('bench_tls.py'), 'observers': run('bench_observers.py'),
                      'plugins': run('bench_plugins.py'),
                      'demo': run('bench_demo.py'), 'scan': run('bench_scan.py')}, indent=2))
