"""Keep freed memory in the process, so that each image's large arrays reuse pages.

The postprocess allocates tens of MB per image (tiles, whole joint maps, tag caches) and
frees them before the next.  glibc returns large blocks to the kernel (``mmap``/trim), so
every image faults its pages in again: thousands of page faults per image, 15-20% of the
time of a small image on a VM here (bench/bench_postprocess.py).  :func:`keep_freed_memory`
asks glibc to serve every block from its heap and never trim it; the process then holds
its peak (a few hundred MB), which a postprocess job holds anyway.  Elsewhere (no glibc)
it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Whether glibc now keeps freed memory (mmap off, trimming off) for this process.

    Also stops numpy from advising huge pages for its large arrays: the tile buffers are
    large and sparse by design (a computed tile touches a few 4 KB pages), and a huge page
    makes the first touch clear 2 MB, with the kernel compacting memory to find it (on the
    VMs here, 20 tiles of tag maps took 48 ms with huge pages against 4 ms without)."""
    advise = getattr(getattr(np, "_core", np).multiarray, "_set_madvise_hugepage", None)
    if advise is not None:
        advise(False)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
