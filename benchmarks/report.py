"""The one format of every benchmark's results: rows of (system, case, median [min-max], ratio).

Each benchmark script prints ``{"rows": [...], ...}`` as JSON; ``run.py`` gathers the rows into one
table.  A row's values come from interleaved repeats within one run, and its ratio is taken
within each repeat (against the reference measured beside it), then summarised the same way.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
from typing import Dict, Optional, Sequence


def stats(values: Sequence[float]) -> Dict[str, float]:
    """Median, min and max of ``values`` (at least one), and their number."""
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values), 'n': len(values)}


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` (0-1) of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def row(system: str, case: str, unit: str, values: Sequence[float], ratios: Optional[Sequence[float]] = None,
        ratio_to: str = '') -> Dict[str, object]:
    """One line of the table: ``values`` of ``case`` measured on ``system`` in ``unit``; ``ratios``
    (one per repeat) against ``ratio_to``, or none."""
    line: Dict[str, object] = {'system': system, 'case': case, 'unit': unit, **stats(values)}
    if ratios:
        line['ratio'] = stats(ratios)
        line['ratio_to'] = ratio_to
    return line


def rss_mib() -> float:
    """Resident memory of this process now, MiB (Linux ``/proc/self/statm``)."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / (1 << 20)


def run_one(script: str, args: Sequence[str], marker: str, timeout: float) -> Dict[str, object]:
    """``script --one *args`` in a process of its own (a clean allocator and Qt state): the last line of
    its output that starts with ``marker``, parsed as JSON.

    Raises:
        RuntimeError: no such line (the output's end is in the message).
    """
    done = subprocess.run([sys.executable, script, '--one', *args], capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith(marker)]
    if not lines:
        raise RuntimeError(f'{" ".join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}')
    return json.loads(lines[-1])
