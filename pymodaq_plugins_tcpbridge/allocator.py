"""Fast cameras and glibc's malloc: a fixed mmap threshold, so that the memory of freed frames goes back
to the system (README, "Memory of a live Grab").

glibc (Linux) serves a block of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start) with an mmap of
its own, unmapped when freed.  The threshold is dynamic: freeing such a block raises it to that
block's size (up to 32 MiB on 64-bit systems), so after the first frames of a camera, its 8 MiB frames
and PyMoDAQ's copies of them come from the heap arenas, where they leave holes that other blocks
split: free memory for the allocator that stays resident.  A live Grab of 1024x1024 float64 frames
grew the process by ~1.6 GiB in 120 s; ``malloc_trim(0)`` gave it back (not a leak).  Setting the
threshold once (``mallopt``) stops the adjustment: each large block is mapped and unmapped by itself
(``benchmarks/bench_memory.py`` measures both).

Done once per process, when a viewer plugin initialises; the environment variable
``TCPBRIDGE_MALLOC_DEFAULT=1`` keeps glibc's default.  Elsewhere (Windows, macOS, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Optional

from pymodaq_utils.logger import get_module_name, set_logger

logger = set_logger(get_module_name(__file__))

#: glibc's mallopt parameter number of the mmap threshold (malloc.h)
M_MMAP_THRESHOLD = -3
#: blocks of this size or more (bytes) are mapped by themselves: frames of 1 MiB and more
MMAP_THRESHOLD_BYTES = 1 << 20
#: set to 1 to keep glibc's dynamic threshold (the benchmark's reference)
DISABLE_VARIABLE = 'TCPBRIDGE_MALLOC_DEFAULT'

_fixed = False


def glibc() -> Optional[ctypes.CDLL]:
    """The C library of this process if it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None
    return libc if hasattr(libc, 'mallopt') and hasattr(libc, 'malloc_trim') else None


def fix_mmap_threshold() -> bool:
    """Set glibc's mmap threshold to :data:`MMAP_THRESHOLD_BYTES` (once per process); returns whether it is
    fixed (False: not glibc, or :data:`DISABLE_VARIABLE` set, or mallopt refused)."""
    global _fixed
    if _fixed or os.environ.get(DISABLE_VARIABLE) == '1':
        return _fixed
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    if libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) != 1:
        logger.warning('mallopt(M_MMAP_THRESHOLD) refused: the memory of a fast camera may stay resident')
        return False
    _fixed = True
    return True


def fixed_threshold() -> bool:
    """True once :func:`fix_mmap_threshold` has set the threshold in this process."""
    return _fixed
