"""The CANN toolkit around the Ascend tools: its environment script, running a tool with its
output logged, the compiled shape set, and the Python that ATC's operator compilation runs.

ATC, AOE and ais_bench are run through ``bash`` after sourcing the configured CANN
``set_env.sh`` (so ``atc``, ``aclruntime`` and the driver libraries are found), with their
output logged to a file (:func:`run_logged`). Compiling is :mod:`.compile`, running is
:mod:`.run`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Sequence

from ...errors import WorkflowError
from ...preprocess.shapes import ASCEND_POLICIES, ASCEND_SHAPES, shape_set
from ..devices import held_fds
from ..runner import SELECT_HINT

DEFAULT_CANN_ENV = "/usr/local/Ascend/ascend-toolkit/set_env.sh"
INSTALL_CANN = ("install the CANN toolkit (it provides atc and set_env.sh) and pass its "
                "set_env.sh with --cann-env / `ascend: cann_env:` in config.yaml")
TAIL_LINES = 20


def shape_list(policy: str = "ascend17", input_size: int = 512,
               scales: Sequence[float] = (1.0,)) -> tuple[tuple[int, int], ...]:
    """The input shapes to compile: the ``ascend17`` policies' set for the model's input size
    and the test's scales (17 for W32-512 at one scale; :func:`higherhrnet.shapes.shape_set`)."""
    if policy not in ASCEND_POLICIES:
        raise WorkflowError(f"shape policy {policy!r}: the Ascend backend compiles a fixed set "
                            "of input shapes; use the `ascend17` (or `ascend17_fit`) shape "
                            "policy with it")
    try:
        return shape_set(input_size, scales)
    except ValueError as exc:
        raise WorkflowError(str(exc)) from None


def add_shape_args(parser) -> None:
    """``--variant`` and ``--scales`` of the ATC/AOE stage CLIs: which shapes to compile."""
    from ...model.variants import DEFAULT_VARIANT, VARIANTS

    parser.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT,
                        help="the model: its input size picks the shapes (default %(default)s)")
    parser.add_argument("--scales", default="1",
                        help="the test's scale factors, comma-separated: their shapes are "
                             "compiled too (default 1)")


def shapes_from_args(args) -> tuple[tuple[int, int], ...]:
    """The shapes :func:`add_shape_args`'s flags (and ``--shape-policy``) ask for."""
    from ...model.variants import get_variant
    from ...preprocess.shapes import parse_scales

    return shape_list(getattr(args, "shape_policy", "ascend17"),
                      get_variant(args.variant).input_size, parse_scales(args.scales))


def dynamic_dims(shapes: Sequence[tuple[int, int]] = ASCEND_SHAPES) -> str:
    """``--dynamic_dims`` value: ``H,W`` pairs joined by ``;`` (the guide's order)."""
    return ";".join(f"{h},{w}" for h, w in shapes)


def _env_wrapped(argv: Sequence[str], cann_env: str | os.PathLike | None) -> list[str]:
    """Run ``argv`` in bash after sourcing ``cann_env`` (argv passed through untouched)."""
    if cann_env is None:
        return list(argv)
    env_file = Path(cann_env)
    if not env_file.is_file():
        raise WorkflowError(f"{env_file}: CANN environment script not found; {INSTALL_CANN}")
    return ["bash", "-c", 'source "$0" >/dev/null || exit 125; exec "$@"', str(env_file),
            *argv]


def _tail(path: Path, n: int = TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as fh:
            return "".join(deque(fh, maxlen=n)).rstrip()
    except OSError:
        return "(log not readable)"


def run_logged(argv: Sequence[str], log: str | os.PathLike, cann_env: str | os.PathLike | None,
               what: str, install_hint: str) -> float:
    """Run a tool with stdout+stderr to ``log``; WorkflowError on failure. Returns seconds."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = _env_wrapped(argv, cann_env)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        fh.write(f"# command: {shlex.join(argv)}\n")
        if cann_env is not None:
            fh.write(f"# environment: source {cann_env}\n")
        fh.flush()
        try:
            # the device lock (inference.devices) goes with the tool: the device stays taken
            # while it runs, whatever happens to this process
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, pass_fds=held_fds()).returncode
        except FileNotFoundError:
            rc = 127
    elapsed = time.perf_counter() - t0
    if rc == 125:
        raise WorkflowError(f"sourcing {cann_env} failed before {what} ran; see {log}:\n"
                            f"{_tail(log)}")
    if rc == 127:
        where = f"after sourcing {cann_env}" if cann_env else "on PATH"
        raise WorkflowError(f"{argv[0]}: command not found {where} (needed for {what}); "
                            f"{install_hint}; or {SELECT_HINT}. Log: {log}")
    if rc != 0:
        raise WorkflowError(f"{what} failed with exit status {rc}; log {log}, last lines:\n"
                            f"{_tail(log)}")
    return elapsed

_NUMPY_PROBE = "import sys, numpy; print(numpy.__version__, *sys.version_info[:2])"


def cann_python_warning(cann_env: str | os.PathLike | None, python: str = "python3") -> str:
    """'' or why ``python3`` (what ATC's operator compilation runs, from PATH) misses CANN's
    requirement numpy < 2 on Python < 3.13 (CANN instg_0045; envs/ascend.yaml meets it)."""
    try:
        res = subprocess.run(_env_wrapped([python, "-c", _NUMPY_PROBE], cann_env),
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except (FileNotFoundError, WorkflowError):
        return ""
    parts = res.stdout.split()
    if res.returncode != 0 or len(parts) != 3:
        return (f"`{python}` on PATH cannot import numpy, which ATC's operator compilation "
                "needs (CANN's Python requirements; see envs/ascend.yaml)")
    version, major, minor = parts[0], int(parts[1]), int(parts[2])
    if (major, minor) < (3, 13) and int(version.split(".")[0]) >= 2:
        return (f"`{python}` on PATH has numpy {version} on Python {major}.{minor}; CANN needs "
                "numpy < 2 there (ATC's operator compilation may fail; use envs/ascend.yaml)")
    return ""
