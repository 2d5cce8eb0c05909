"""Ascend backend: the guide's ATC compile and ``python3 -m ais_bench`` runs, verbatim.

Both tools come with CANN / Ascend tools and are run through ``bash`` after sourcing the
configured CANN ``set_env.sh`` (so ``atc``, ``aclruntime`` and the driver libraries are
found), with their output logged to a file. This module builds the exact argument vectors
(tested against test doubles; real hardware was not available when it was written), runs
them, and then checks and annotates what ais_bench wrote:

- ``atc --framework=5 --model=X.onnx --output=PREFIX --input_format=ND
  --input_shape=input:1,3,-1,-1 --dynamic_dims=<17 H,W pairs> --soc_version=<chip>``
  (+ ``--precision_mode=<mode>`` and extra flags when configured; our ONNX outputs are named
  ``output1``/``output2`` so no ``--out_nodes``) writes ``PREFIX.om`` or
  ``PREFIX_<os>_<arch>.om`` (CANN atlasatcparam_16_0029/0033); either is renamed to
  ``PREFIX.om``, the one path the rule declares;
- ``aoe --framework=5 --model=X.onnx --job_type=1|2 ...`` (same shape options) writes the
  AOE-tuned ``PREFIX.om`` (same naming, same renaming), see :func:`tune_om`;
- ``python3 -m ais_bench --model=X.om --input=DIR --output=OUT --output_dirname=NAME
  --outfmt NPY --auto_set_dymdims_mode 1 [--device N]`` writes ``OUT/NAME/<stem>_0.npy``,
  ``<stem>_1.npy`` and ``OUT/NAME_summary.json``. Every path handed to it must meet its
  path rule (:mod:`higherhrnet.ais_bench_paths`); ``--device`` is a logical index within
  the job's NPUs (``ASCEND_RT_VISIBLE_DEVICES``), see :func:`resolve_device`.

The inference tool is the ``ais_bench`` package of Ascend tools / ait (it has the
``ais_bench.infer`` subpackage and needs ``aclruntime``). The PyPI package
``ais-bench-benchmark`` (AISBench, an OpenCompass-based LLM evaluation tool) also installs a
module named ``ais_bench`` (with ``ais_bench.benchmark``); it is detected before the run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Sequence

from . import paths as ais_bench_paths
from ...atomic import write_json
from ...errors import WorkflowError, first_few
from ...preprocess.shapes import ASCEND_SHAPES, shape_set
from ..runner import (SELECT_HINT, check_dirname, check_model_file, clear_outputs,
                     discover_inputs, summary_path, verify_outputs)

DEFAULT_CANN_ENV = "/usr/local/Ascend/ascend-toolkit/set_env.sh"
INSTALL_CANN = ("install the CANN toolkit (it provides atc and set_env.sh) and pass its "
                "set_env.sh with --cann-env / `ascend: cann_env:` in config.yaml")
INSTALL_AIS_BENCH = ("install the Ascend inference tool ais_bench: the aclruntime and "
                     "ais_bench wheels from https://gitee.com/ascend/tools/tree/master/"
                     "ais-bench_workload/tool/ais_bench (or ait's benchmark component)")
TAIL_LINES = 20
#: AOE's --job_type per ``ascend.aoe`` value (aoepar_16_020): 1 subgraph, 2 operator tuning.
AOE_JOB_TYPES = {"off": (), "subgraph": (1,), "operator": (2,), "both": (1, 2)}
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


def shape_list(policy: str = "ascend17", input_size: int = 512,
               scales: Sequence[float] = (1.0,)) -> tuple[tuple[int, int], ...]:
    """The input shapes to compile: the ``ascend17`` policy's set for the model's input size
    and the test's scales (17 for W32-512 at one scale; :func:`higherhrnet.shapes.shape_set`)."""
    if policy != "ascend17":
        raise WorkflowError(f"shape policy {policy!r}: the Ascend backend compiles a fixed set "
                            "of input shapes; use the `ascend17` shape policy with it")
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


def atc_argv(onnx: str | os.PathLike, output_prefix: str | os.PathLike, soc_version: str,
             shape_policy: str = "ascend17", precision_mode: str | None = None,
             extra_args: Sequence[str] = (),
             shapes: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """The guide's ATC command as an argument vector (no shell quoting needed); ``shapes``
    (default: the policy's 17) are the ``--dynamic_dims``."""
    if not soc_version:
        raise WorkflowError("--soc-version is required (e.g. Ascend310P3; `npu-smi info` "
                            "shows the chip)")
    argv = ["atc", "--framework=5", f"--model={onnx}", f"--output={output_prefix}",
            "--input_format=ND", "--input_shape=input:1,3,-1,-1",
            f"--dynamic_dims={dynamic_dims(shapes or shape_list(shape_policy))}",
            f"--soc_version={soc_version}"]
    if precision_mode:
        argv.append(f"--precision_mode={precision_mode}")
    return argv + list(extra_args)


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
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL).returncode
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


def _suffixed_om(prefix: Path) -> list[Path]:
    """``<prefix>_<os>_<arch>.om`` files (ATC/AOE may add the suffix; atlasatcparam_16_0029)."""
    pattern = re.compile(re.escape(prefix.name) + r"_[a-z]+_[A-Za-z0-9_]+\.om$")
    folder = prefix.parent if str(prefix.parent) else Path(".")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))


def clear_om(output_prefix: str | os.PathLike) -> None:
    """Remove ``<prefix>.om`` and ``<prefix>_<os>_<arch>.om`` of an earlier run, so that a
    failed compile cannot leave an old model looking current."""
    prefix = Path(output_prefix)
    for p in [Path(f"{prefix}.om"), *_suffixed_om(prefix)]:
        p.unlink(missing_ok=True)


def normalise_om(output_prefix: str | os.PathLike, tool: str, log: str | os.PathLike) -> Path:
    """The model a tool wrote for ``--output=<prefix>``, as ``<prefix>.om``.

    ATC and AOE write ``<prefix>.om`` or ``<prefix>_<os>_<arch>.om`` (e.g.
    ``..._linux_aarch64.om``); the suffixed file is renamed so the rule's output is one
    predictable path. Its mode loses group/other write bits (ais_bench's path rule).
    """
    prefix = Path(output_prefix)
    om = Path(f"{prefix}.om")
    suffixed = _suffixed_om(prefix)
    if not om.is_file():
        if len(suffixed) > 1:
            raise WorkflowError(f"{tool} wrote several models for --output={prefix}: "
                                f"{first_few(str(p) for p in suffixed)}; expected one; log {log}")
        if suffixed:
            os.replace(suffixed[0], om)
    if not om.is_file() or om.stat().st_size == 0:
        raise WorkflowError(f"{tool} exited 0 but neither {om} nor {prefix}_<os>_<arch>.om "
                            f"was written; log {log}, last lines:\n{_tail(Path(log))}")
    ais_bench_paths.tighten(om)
    return om


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


def compile_om(onnx: str | os.PathLike, output_prefix: str | os.PathLike, soc_version: str,
               log: str | os.PathLike, shape_policy: str = "ascend17",
               precision_mode: str | None = None, extra_args: Sequence[str] = (),
               cann_env: str | os.PathLike | None = DEFAULT_CANN_ENV,
               shapes: Sequence[tuple[int, int]] | None = None) -> Path:
    """ATC: ``onnx`` -> ``<output_prefix>.om`` (``shapes``; default the policy's 17)."""
    onnx = check_model_file(onnx, "ONNX model")
    shapes = shapes or shape_list(shape_policy)
    argv = atc_argv(onnx, output_prefix, soc_version, shape_policy, precision_mode, extra_args,
                    shapes)
    Path(output_prefix).parent.mkdir(parents=True, exist_ok=True)
    clear_om(output_prefix)
    print(f"compile_om: atc for {soc_version} ({len(shapes)} shapes), log {log}",
          file=sys.stderr, flush=True)
    warning = cann_python_warning(cann_env)
    if warning:
        print(f"compile_om: warning: {warning}", file=sys.stderr, flush=True)
    seconds = run_logged(argv, log, cann_env, "atc", INSTALL_CANN)
    om = normalise_om(output_prefix, "atc", log)
    print(f"compile_om: wrote {om} in {seconds:.0f} s", file=sys.stderr, flush=True)
    return om


def aoe_argv(onnx: str | os.PathLike, output_prefix: str | os.PathLike, job_type: int,
             shape_policy: str = "ascend17", extra_args: Sequence[str] = (),
             shapes: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """AOE on the ONNX model with ATC's shape options (aoepar_16_020)."""
    if job_type not in (1, 2):
        raise WorkflowError(f"aoe --job_type={job_type}: 1 (subgraph) or 2 (operator)")
    return ["aoe", "--framework=5", f"--model={onnx}", f"--job_type={job_type}",
            "--input_format=ND", "--input_shape=input:1,3,-1,-1",
            f"--dynamic_dims={dynamic_dims(shapes or shape_list(shape_policy))}",
            f"--output={output_prefix}", *extra_args]


def tune_om(onnx: str | os.PathLike, output_prefix: str | os.PathLike, mode: str,
            log: str | os.PathLike, shape_policy: str = "ascend17",
            extra_args: Sequence[str] = (),
            cann_env: str | os.PathLike | None = DEFAULT_CANN_ENV,
            shapes: Sequence[tuple[int, int]] | None = None) -> tuple[Path, dict]:
    """AOE tuning (``mode``: subgraph, operator or both, in that order) -> tuned ``.om``.

    Each AOE run tunes the ONNX model with the compiled shapes and writes ``<prefix>.om``;
    with ``both`` the operator run comes second (it finds the subgraph run's knowledge base
    in AOE's custom repository) and its model is the result. Returns the .om and the seconds
    per job type (also printed to stderr, the rule's log); AOE's own output goes to
    ``<log stem>.subgraph.log`` / ``.operator.log`` beside ``log``.
    """
    if mode not in AOE_JOB_TYPES or mode == "off":
        raise WorkflowError(f"ascend.aoe {mode!r}: choose subgraph, operator or both")
    onnx = check_model_file(onnx, "ONNX model")
    log = Path(log)
    Path(output_prefix).parent.mkdir(parents=True, exist_ok=True)
    times: dict = {}
    lines = []
    for job_type in AOE_JOB_TYPES[mode]:
        name = {1: "subgraph", 2: "operator"}[job_type]
        clear_om(output_prefix)
        argv = aoe_argv(onnx, output_prefix, job_type, shape_policy, extra_args, shapes)
        part = log.with_name(f"{log.stem}.{name}{log.suffix or '.log'}")
        print(f"tune_om: aoe {name} tuning (--job_type={job_type}), log {part}",
              file=sys.stderr, flush=True)
        times[name] = run_logged(argv, part, cann_env, f"aoe {name} tuning", INSTALL_CANN)
        om = normalise_om(output_prefix, "aoe", part)
        lines.append(f"aoe {name} tuning (--job_type={job_type}): {times[name]:.1f} s, "
                     f"log {part}")
    lines.append(f"tuned model {om}, {sum(times.values()):.1f} s in all")
    for line in lines:
        print(f"tune_om: {line}", file=sys.stderr, flush=True)
    return om, times


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
               compiled: Sequence[tuple[int, int]] = ASCEND_SHAPES) -> dict:
    """One inference run with ais_bench; verifies outputs, annotates and returns the summary.
    ``compiled``: the shapes the .om holds (every input must have one of them)."""
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
    verify_outputs(inputs, output, dirname)
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
