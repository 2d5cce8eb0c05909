"""Compiling for Ascend: the guide's ATC compile and AOE tuning, verbatim.

- ``atc --framework=5 --model=X.onnx --output=PREFIX --input_format=ND
  --input_shape=input:1,3,-1,-1 --dynamic_dims=<17 H,W pairs> --soc_version=<chip>``
  (+ ``--precision_mode=<mode>`` and extra flags when configured; our ONNX outputs are named
  ``output1``/``output2`` so no ``--out_nodes``) writes ``PREFIX.om`` or
  ``PREFIX_<os>_<arch>.om`` (CANN atlasatcparam_16_0029/0033); either is renamed to
  ``PREFIX.om``, the one path the rule declares;
- ``aoe --framework=5 --model=X.onnx --job_type=1|2 ...`` (same shape options) writes the
  AOE-tuned ``PREFIX.om`` (same naming, same renaming), see :func:`tune_om`.

The argument vectors are tested against test doubles (real hardware was not available when
this was written).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Sequence

from . import paths as ais_bench_paths
from ...errors import WorkflowError, first_few
from ..runner import check_model_file
from .cann import (DEFAULT_CANN_ENV, INSTALL_CANN, _tail, cann_python_warning, dynamic_dims,
                   run_logged, shape_list)

#: AOE's --job_type per ``ascend.aoe`` value (aoepar_16_020): 1 subgraph, 2 operator tuning.
AOE_JOB_TYPES = {"off": (), "subgraph": (1,), "operator": (2,), "both": (1, 2)}


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
