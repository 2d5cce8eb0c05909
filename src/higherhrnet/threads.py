"""Every stage uses exactly the threads its rule declares: torch, OpenCV, BLAS (and ONNX
Runtime through the backends' ``intra_op_num_threads``).

Snakemake exports a rule's ``threads`` to its shell command as ``OMP_NUM_THREADS`` (and the
BLAS variables), so :func:`declared_threads` reads the count from there (1 when unset, the
default a rule declares). That variable alone is not enough: OpenCV ignores it, ONNX
Runtime ignores it, and a BLAS already loaded read it at load time. :func:`use_threads` is
called at the start of every stage script: it sets the variables for libraries loaded later
and the running count of those already loaded, and returns what they report.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: read at load time by OpenMP, the BLAS builds, numexpr and OpenCV's own thread pool
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")
#: (set, get) entry points of the OpenBLAS builds numpy/scipy wheels bundle
_OPENBLAS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
             ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
             ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
             ("openblas_set_num_threads", "openblas_get_num_threads"))


def declared_threads(default: int | None = 1) -> int | None:
    """The rule's thread count as Snakemake exports it (``OMP_NUM_THREADS``), else ``default``."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def _loaded_openblas() -> list[tuple[ctypes.CDLL, str, str]]:
    """OpenBLAS libraries already in this process (Linux: /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as fh:
            names = {line.split()[-1] for line in fh if line.strip()}
    except OSError:
        return []
    paths = sorted(p for p in names if "openblas" in os.path.basename(p).lower() and ".so" in p)
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in _OPENBLAS:
            if hasattr(lib, setter) and hasattr(lib, getter):
                found.append((lib, setter, getter))
                break
    return found


def blas_threads() -> int | None:
    """Threads of the loaded OpenBLAS (the smallest if several), None if none is loaded."""
    counts = [int(getattr(lib, getter)()) for lib, _, getter in _loaded_openblas()]
    return min(counts) if counts else None


def use_threads(n: int) -> dict:
    """Make torch, OpenCV and BLAS use ``n`` threads, loaded or not; return their counts."""
    n = int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    for var in ENV_VARS:
        os.environ[var] = str(n)
    for lib, setter, _ in _loaded_openblas():
        getattr(lib, setter)(n)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # only possible before the first parallel work: then it ran
            pass
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(n)
    return thread_report(n)


def thread_report(n: int) -> dict:
    """What the loaded libraries report now (a library not loaded is left out)."""
    seen: dict = {"threads": n}
    if "torch" in sys.modules:
        seen["torch"] = sys.modules["torch"].get_num_threads()
    if "cv2" in sys.modules:
        seen["opencv"] = sys.modules["cv2"].getNumThreads()
    blas = blas_threads()
    if blas is not None:
        seen["blas"] = blas
    return seen


def asks_for_help(argv) -> bool:
    """``-h`` / ``--help`` (or an abbreviation argparse accepts, ``--he``) on the command line."""
    return any(a == "-h" or (len(a) >= 3 and "--help".startswith(a)) for a in argv)


def stage_threads(n: int | None = None, log=sys.stderr, argv=None) -> int:
    """:func:`use_threads` with ``n`` (default: :func:`declared_threads`), and one log line
    ``threads: N (torch N, opencv N, blas N)`` read back from the loaded libraries; no line
    when the command line (``argv``, default ``sys.argv[1:]``) asks for ``--help``, which
    then prints the help alone."""
    n = declared_threads() if n is None else n
    seen = use_threads(n)
    parts = ", ".join(f"{k} {v}" for k, v in seen.items() if k != "threads")
    if asks_for_help(sys.argv[1:] if argv is None else argv):
        return n
    if parts:  # else nothing threaded is loaded (yet): the variables are set for later
        print(f"threads: {n} ({parts})", file=log, flush=True)
    return n
