"""Running on Ascend: the guide's ``python3 -m ais_bench`` runs, verbatim, and the NPU device.

``python3 -m ais_bench --model=X.om --input=DIR --output=OUT --output_dirname=NAME
--outfmt NPY --auto_set_dymdims_mode 1 [--device N]`` writes ``OUT/NAME/<stem>_0.npy``,
``<stem>_1.npy`` and ``OUT/NAME_summary.json``; this module builds the argument vector, runs
it under CANN (:mod:`.cann`), then checks and annotates what ais_bench wrote. Every path
handed to it must meet its path rule (:mod:`higherhrnet.inference.ascend.paths`);
``--device`` is a logical index within the job's NPUs (``ASCEND_RT_VISIBLE_DEVICES``), see
:func:`resolve_device`.

The inference tool is the ``ais_bench`` package of Ascend tools / ait (it has the
``ais_bench.infer`` subpackage and needs ``aclruntime``). The PyPI package
``ais-bench-benchmark`` (AISBench, an OpenCompass-based LLM evaluation tool) also installs a
module named ``ais_bench`` (with ``ais_bench.benchmark``); it is detected before the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from . import paths as ais_bench_paths
from ...atomic import write_json
from ...errors import WorkflowError, first_few
from ...preprocess.shapes import ASCEND_SHAPES
from ..runner import (SELECT_HINT, check_dirname, check_model_file, clear_outputs,
                     discover_inputs, summary_path, verify_outputs)
from .cann import DEFAULT_CANN_ENV, _env_wrapped, run_logged

INSTALL_AIS_BENCH = ("install the Ascend inference tool ais_bench: the aclruntime and "
                     "ais_bench wheels from https://gitee.com/ascend/tools/tree/master/"
                     "ais-bench_workload/tool/ais_bench (or ait's benchmark component)")
VISIBLE_DEVICES = "ASCEND_RT_VISIBLE_DEVICES"
# Runs in the target environment: which `ais_bench` would `python3 -m ais_bench` run?
_PROBE = r"""
import importlib.util as u, json


def spec(n):
    try:
        return u.find_spec(n)
    except Exception:
        return None
top = spec("ais_bench")
out = {"found": top is not None,
       "origin": None if top is None else (top.origin or list(top.submodule_search_locations or [])),
       "infer": spec("ais_bench.infer") is not None if top else False,
       "benchmark": spec("ais_bench.benchmark") is not None if top else False,
       "main": spec("ais_bench.__main__") is not None if top else False}
print("AIS_BENCH_PROBE " + json.dumps(out))
"""


def ais_bench_argv(model_om: str | os.PathLike, input_dir: str | os.PathLike,
                   output: str | os.PathLike, dirname: str, device: int | None = None,
                   python: str = "python3", loop: int | None = None,
                   warmup: int | None = None) -> list[str]:
    """The guide's ais_bench command as an argument vector (``loop``/``warmup``: the
    performance measurement, ``--loop N --warmup_count W``)."""
    argv = [python, "-m", "ais_bench", f"--model={model_om}", f"--input={input_dir}",
            f"--output={output}", f"--output_dirname={dirname}", "--outfmt", "NPY",
            "--auto_set_dymdims_mode", "1"]
    if loop is not None:
        argv += ["--loop", str(int(loop))]
    if warmup is not None:
        argv += ["--warmup_count", str(int(warmup))]
    if device is not None:
        argv += ["--device", str(int(device))]
    return argv


def resolve_device(device: int | None, environ=os.environ) -> tuple[int, str]:
    """The logical NPU index for ais_bench ``--device`` and a description of it.

    ``ascend.device`` is a logical index within the NPUs this job may use: when the scheduler
    sets ``ASCEND_RT_VISIBLE_DEVICES`` (e.g. ``4,5``), index 0 is its first entry (physical 4);
    the runtime maps it, so the index is passed as is and checked against the list.
    """
    index = int(device or 0)
    visible = environ.get(VISIBLE_DEVICES, "").strip()
    if not visible:
        return index, f"npu:{index}"
    ids = [v.strip() for v in visible.split(",") if v.strip()]
    if index >= len(ids):
        raise WorkflowError(f"ascend.device / --device {index}: a logical index within the "
                            f"job's NPUs, but {VISIBLE_DEVICES}={visible} gives this job "
                            f"{len(ids)} device(s) (indices 0..{len(ids) - 1})")
    return index, f"npu:{index} (physical {ids[index]} of {VISIBLE_DEVICES}={visible})"


def probe_ais_bench(python: str = "python3",
                    cann_env: str | os.PathLike | None = DEFAULT_CANN_ENV) -> dict:
    """Which ``ais_bench`` ``python -m ais_bench`` would run; WorkflowError when wrong/missing."""
    cmd = _env_wrapped([python, "-c", _PROBE], cann_env)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise WorkflowError(f"{python}: interpreter not found; {SELECT_HINT}") from None
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("AIS_BENCH_PROBE ")),
                None)
    if res.returncode != 0 or line is None:
        raise WorkflowError(f"could not run `{python}` to look for ais_bench (exit "
                            f"{res.returncode}): {res.stderr.strip()[-500:]}")
    info = json.loads(line.split(" ", 1)[1])
    if not info["found"]:
        raise WorkflowError(f"`{python} -m ais_bench`: no module ais_bench; "
                            f"{INSTALL_AIS_BENCH}; or {SELECT_HINT}")
    if not info["infer"]:
        kind = ("the PyPI package ais-bench-benchmark (AISBench LLM evaluation, "
                "OpenCompass-based)" if info["benchmark"] else "an unknown package")
        raise WorkflowError(
            f"`{python} -m ais_bench` would run {kind} at {info['origin']}, not the Ascend "
            f"inference tool (no ais_bench.infer). Uninstall it (`pip uninstall "
            f"ais-bench-benchmark`) and {INSTALL_AIS_BENCH}; or {SELECT_HINT}")
    return info


def run_ascend(model_om: str | os.PathLike, input_dir: str | os.PathLike,
               output: str | os.PathLike, dirname: str, device: int | None = None,
               log: str | os.PathLike | None = None,
               cann_env: str | os.PathLike | None = DEFAULT_CANN_ENV,
               python: str = "python3", progress: bool = True,
               compiled: Sequence[tuple[int, int]] = ASCEND_SHAPES,
               num_joints: int = 17) -> dict:
    """One inference run with ais_bench; verifies outputs, annotates and returns the summary.
    ``compiled``: the shapes the .om holds (every input must have one of them);
    ``num_joints``: the model's (COCO 17, CrowdPose 14), for the output shape check."""
    check_dirname(dirname)
    inputs = discover_inputs(input_dir)
    # ais_bench runs every *.npy|*.NPY|*.bin|*.BIN of the folder (ASCEND_TOOLS.md); the
    # outputs of files we do not count would be unverified and mixed into the summary
    others = sorted(p.name for p in Path(input_dir).iterdir()
                    if p.suffix in (".NPY", ".bin", ".BIN"))
    if others:
        raise WorkflowError(f"{input_dir}: ais_bench would also run {len(others)} file(s) "
                            f"that are not <stem>.npy tensors: {first_few(others)}; remove "
                            "them (it takes every .npy/.NPY/.bin/.BIN of the folder)")
    compiled = set(compiled)
    for item in inputs:
        if item.hw not in compiled:
            raise WorkflowError(
                f"{item.path}: input is {item.hw[0]}x{item.hw[1]} (HxW), not one of the "
                f"{len(compiled)} shapes the .om is compiled for (ascend17 shape policy of the "
                "model's input size and test.scales, e.g. 512x512..512x1024, "
                "576x512..1024x512 for W32-512); preprocess with shape_policy ascend17")
    model_om = check_model_file(model_om, "Ascend offline model (.om)")
    log = Path(log) if log else Path(output) / f"{dirname}.ais_bench.log"
    index, where = resolve_device(device)
    probe_ais_bench(python, cann_env)
    Path(output).mkdir(parents=True, exist_ok=True)
    clear_outputs(inputs, output, dirname)
    tightened = ais_bench_paths.prepare(model_om, input_dir, output, dirname)
    argv = ais_bench_argv(model_om, input_dir, output, dirname,
                          None if device is None else index, python)
    if progress:
        note = (f"; {tightened} path(s) made not group/other-writable for ais_bench"
                if tightened else "")
        print(f"infer[ascend]: {len(inputs)} input(s) from {input_dir} -> "
              f"{Path(output) / dirname} with ais_bench ({where}), log {log}{note}",
              file=sys.stderr, flush=True)
    wall = run_logged(argv, log, cann_env, "ais_bench", INSTALL_AIS_BENCH)
    verify_outputs(inputs, output, dirname, num_joints)
    spath = summary_path(output, dirname)
    try:
        summary = json.loads(spath.read_text())
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"{spath}: ais_bench summary missing or unreadable ({exc}); log "
                            f"{log}") from None
    compute = summary.get("NPU_compute_time", {})
    summary.update({
        "backend": "ascend", "device": where, "threads": None,
        "providers": ["ais_bench"], "batch_size": 1,
        # ais_bench loads the model inside its own process and does not report how long
        # that took; overhead_s is the wall time the NPU was not computing (interpreter and
        # model load, warm-up, file IO), an upper bound of the start-up time.
        "session_startup_s": None,
        "overhead_s": max(0.0, wall - compute.get("mean", 0.0) *
                          compute.get("count", 0) / 1000.0),
        "model": str(model_om), "num_inputs": len(inputs), "wall_time_s": wall,
        "images_per_s": len(inputs) / wall if wall > 0 else 0.0,
        "command": argv, "log": str(log),
    })
    write_json(spath, summary, indent=None)
    if progress:
        print(f"infer[ascend]: {len(inputs)} input(s) in {wall:.1f} s, throughput "
              f"{summary.get('throughput', 0):.1f}/s on the NPU", file=sys.stderr, flush=True)
    return summary


def run_loop(model_om: str | os.PathLike, input_dir: str | os.PathLike,
             output: str | os.PathLike, dirname: str, loop: int, warmup: int,
             device: int | None = None, log: str | os.PathLike | None = None,
             cann_env: str | os.PathLike | None = DEFAULT_CANN_ENV,
             python: str = "python3") -> dict:
    """ais_bench's performance measurement: ``--loop`` runs per input after ``--warmup_count``
    warm-up runs (not counted); returns its summary (``NPU_compute_time``, ``throughput``)."""
    check_dirname(dirname)
    model_om = check_model_file(model_om, "Ascend offline model (.om)")
    index, where = resolve_device(device)
    probe_ais_bench(python, cann_env)
    Path(output).mkdir(parents=True, exist_ok=True)
    spath = summary_path(output, dirname)
    spath.unlink(missing_ok=True)
    ais_bench_paths.prepare(model_om, input_dir, output, dirname)
    argv = ais_bench_argv(model_om, input_dir, output, dirname,
                          None if device is None else index, python, loop=loop, warmup=warmup)
    log = Path(log) if log else Path(output) / f"{dirname}.ais_bench.log"
    run_logged(argv, log, cann_env, "ais_bench --loop", INSTALL_AIS_BENCH)
    try:
        summary = json.loads(spath.read_text())
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"{spath}: ais_bench summary missing or unreadable ({exc}); log "
                            f"{log}") from None
    summary.update({"device": where, "command": argv, "log": str(log)})
    return summary
