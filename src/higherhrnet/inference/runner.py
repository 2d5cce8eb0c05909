"""What every inference backend shares: ais_bench's file layout, summary and checks.

Layout (the Ascend guide's ``python3 -m ais_bench ... --outfmt NPY`` naming, used by every
backend so postprocess never knows which one ran)::

    <input>/<stem>.npy                       float32 [1,3,H,W], H and W multiples of 32
    <output>/<dirname>/<stem>_0.npy          output1 [1,34,H/4,W/4] (17 heatmaps + 17 tags)
    <output>/<dirname>/<stem>_1.npy          output2 [1,17,H/2,W/2] (heatmaps)
    <output>/<dirname>_summary.json          ais_bench's summary + which backend ran

The summary keeps ais_bench's keys (``filesinfo``, ``args``, ``NPU_compute_time``,
``H2D_latency``, ``D2H_latency`` with min/max/mean/median/``percentile(99%)``/count in ms,
``throughput`` = 1000 * mean batch size / mean compute time, ``npu_compute_time_list``,
``pid``); on CPU/GPU backends "NPU_compute_time" is the engine's forward time.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .. import files as npyfile
from ..atomic import save_npy, write_json
from .output_layout import output_paths, output_shapes, summary_path  # noqa: F401
from ..errors import WorkflowError, first_few
from ..progress import Progress
from ..preprocess.shapes import OUTPUTS  # noqa: F401  (re-exported: the backends' output layout)

INPUT_NAME = "input"
ALIGN = 32
PERCENTILE = 99
#: How a user picks another backend; appended to "tool missing" errors.
SELECT_HINT = ("select another backend with `backend:` in config.yaml or `--backend "
               "onnxruntime|torch|ascend` on scripts/infer.py")


@dataclass(frozen=True)
class InputFile:
    stem: str
    path: Path
    shape: tuple[int, ...]

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.shape[2]), int(self.shape[3])


def check_dirname(dirname: str) -> str:
    """ais_bench joins ``--output`` and ``--output_dirname``; keep it one plain folder name."""
    if not dirname or dirname in (".", "..") or "/" in dirname or os.sep in dirname:
        raise WorkflowError(f"--output-dirname {dirname!r}: give a plain folder name "
                            "(no '/'); it is created inside --output")
    return dirname


def check_input_tensor(path: Path) -> tuple[int, ...]:
    """Shape of a valid network input file, or a WorkflowError naming the file."""
    shape, _, dtype = npyfile.header(path)
    if dtype != np.float32:
        raise WorkflowError(f"{path}: input tensor has dtype {dtype}, expected float32 "
                            "(write it with the preprocess stage)")
    if len(shape) != 4 or shape[0] != 1 or shape[1] != 3:
        raise WorkflowError(f"{path}: input tensor has shape {list(shape)}, "
                            "expected [1, 3, H, W]")
    if shape[2] % ALIGN or shape[3] % ALIGN or shape[2] <= 0 or shape[3] <= 0:
        raise WorkflowError(f"{path}: input tensor has shape {list(shape)}; H and W must be "
                            f"positive multiples of {ALIGN}")
    return shape


def discover_inputs(input_dir: str | os.PathLike, allow_empty: bool = False) -> list[InputFile]:
    """All ``<stem>.npy`` in ``input_dir`` (sorted by stem), each checked for dtype and shape.

    An empty folder is an error unless ``allow_empty`` (the workflow's shard of an image set
    smaller than the shard count)."""
    folder = Path(input_dir)
    if not folder.is_dir():
        raise WorkflowError(f"{folder}: input folder does not exist (expected the "
                            "preprocess stage's <stem>.npy tensors)")
    files = sorted(p for p in folder.iterdir() if p.suffix == ".npy" and p.is_file())
    if not files and not allow_empty:
        raise WorkflowError(f"{folder}: no <stem>.npy input tensors found")
    return [InputFile(p.stem, p, check_input_tensor(p)) for p in files]


def check_model_file(path: str | os.PathLike, kind: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise WorkflowError(f"{p}: {kind} file not found")
    if p.stat().st_size == 0:
        raise WorkflowError(f"{p}: {kind} file is empty")
    return p


def clear_outputs(inputs: Sequence[InputFile], output: str | os.PathLike, dirname: str) -> None:
    """Remove stale outputs of these inputs so verification only sees this run's files."""
    for item in inputs:
        for p in output_paths(output, dirname, item.stem):
            p.unlink(missing_ok=True)
    summary_path(output, dirname).unlink(missing_ok=True)


def verify_outputs(inputs: Sequence[InputFile], output: str | os.PathLike, dirname: str,
                   num_joints: int = 17) -> None:
    """Every input has ``_0``/``_1`` with the right shapes (a model of ``num_joints``
    joints); else name the stems."""
    missing: list[str] = []
    wrong: list[str] = []
    for item in inputs:
        expected = output_shapes(*item.hw, num_joints)
        for idx, (p, shape) in enumerate(zip(output_paths(output, dirname, item.stem), expected)):
            if not p.is_file():
                missing.append(f"{item.stem}_{idx}")
                continue
            got, _, _ = npyfile.header(p)
            if got != shape:
                wrong.append(f"{p.name}: {list(got)} instead of {list(shape)}")
    folder = Path(output) / dirname
    problems = []
    if missing:
        problems.append(f"{len(missing)} output file(s) missing: {first_few(missing)}")
    if wrong:
        problems.append(f"{len(wrong)} output file(s) with the wrong shape: {first_few(wrong)}")
    if problems:
        raise WorkflowError(f"{folder}: inference did not produce the expected outputs for "
                            f"{len(inputs)} input(s): " + "; ".join(problems))


def latency_stats(values_ms: Sequence[float]) -> dict:
    """ais_bench's per-list statistics (zeros for an empty list, as ais_bench reports)."""
    key = f"percentile({PERCENTILE}%)"
    if len(values_ms) == 0:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "median": 0.0, key: 0.0, "count": 0}
    a = np.asarray(values_ms, dtype=np.float64)
    return {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
            "median": float(np.median(a)), key: float(np.percentile(a, PERCENTILE)),
            "count": int(a.size)}


@dataclass
class RunRecord:
    """What a run measured; turned into the summary json by :func:`build_summary`."""

    compute_ms: list[float] = field(default_factory=list)  # one per engine call (batch)
    batch_sizes: list[int] = field(default_factory=list)
    h2d_ms: list[float] = field(default_factory=list)
    d2h_ms: list[float] = field(default_factory=list)
    filesinfo: dict[str, dict] = field(default_factory=dict)
    wall_s: float = 0.0

    def add_sample(self, infile: Path, outfiles: Iterable[Path]) -> None:
        self.filesinfo[str(len(self.filesinfo))] = {
            "infiles": [str(infile)], "outfiles": [str(p) for p in outfiles]}


def build_summary(record: RunRecord, info: dict, argv: Sequence[str] | None = None) -> dict:
    """ais_bench's summary layout plus ``info`` (backend, device, threads, ...)."""
    compute = latency_stats(record.compute_ms)
    mean_batch = float(np.mean(record.batch_sizes)) if record.batch_sizes else 0.0
    per_sample = [t / b for t, b in zip(record.compute_ms, record.batch_sizes) for _ in range(b)]
    n = len(record.filesinfo)
    summary = {
        "filesinfo": record.filesinfo,
        "args": list(argv if argv is not None else sys.argv),
        "NPU_compute_time": compute,
        "H2D_latency": latency_stats(record.h2d_ms),
        "D2H_latency": latency_stats(record.d2h_ms),
        "throughput": 1000.0 * mean_batch / compute["mean"] if compute["mean"] else 0.0,
        "npu_compute_time_list": [float(t) for t in record.compute_ms],
        "pid": os.getpid(),
    }
    summary.update(info)
    summary.update({
        "num_inputs": n,
        "sample_latency": latency_stats(per_sample),
        "wall_time_s": record.wall_s,
        "images_per_s": n / record.wall_s if record.wall_s > 0 else 0.0,
    })
    return summary


def batches(inputs: Sequence[InputFile], batch_size: int) -> list[list[InputFile]]:
    """Consecutive runs of equal-shape inputs, at most ``batch_size`` each, in stem order.

    Sorting by shape first would batch more but would reorder the per-file list; with the
    sample order kept, shards of mixed shapes still batch the common 512x768 runs.
    """
    if batch_size < 1:
        raise WorkflowError(f"--batch-size must be >= 1, got {batch_size}")
    if batch_size == 1:
        return [[item] for item in inputs]
    groups: dict[tuple[int, ...], list[InputFile]] = {}
    for item in inputs:
        groups.setdefault(item.shape, []).append(item)
    out: list[list[InputFile]] = []
    for group in groups.values():
        out.extend(group[i:i + batch_size] for i in range(0, len(group), batch_size))
    return out


Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, float, float, float]]


def run_engine(forward: Forward, inputs: Sequence[InputFile], output: str | os.PathLike,
               dirname: str, batch_size: int = 1, label: str = "infer",
               progress: bool = True) -> RunRecord:
    """Feed the inputs through ``forward`` and write ais_bench's layout.

    ``forward(x)`` returns ``(output1, output2, compute_ms, h2d_ms, d2h_ms)`` for a batch
    ``x`` of shape ``[B,3,H,W]``; h2d/d2h are 0 on a CPU engine (then not recorded).
    """
    record = RunRecord()
    todo = batches(inputs, batch_size)
    prog = Progress(len(inputs), label, progress)
    t0 = time.perf_counter()
    for group in todo:
        x = np.concatenate([np.load(item.path) for item in group], axis=0) if len(group) > 1 \
            else np.load(group[0].path)
        out1, out2, compute_ms, h2d_ms, d2h_ms = forward(np.ascontiguousarray(x))
        record.compute_ms.append(compute_ms)
        record.batch_sizes.append(len(group))
        if h2d_ms or d2h_ms:
            record.h2d_ms.append(h2d_ms)
            record.d2h_ms.append(d2h_ms)
        for i, item in enumerate(group):
            paths = output_paths(output, dirname, item.stem)
            save_npy(paths[0], np.ascontiguousarray(out1[i:i + 1], dtype=np.float32))
            save_npy(paths[1], np.ascontiguousarray(out2[i:i + 1], dtype=np.float32))
            record.add_sample(item.path, paths)
        prog.update(len(group))
    record.wall_s = time.perf_counter() - t0
    return record


def write_summary(output: str | os.PathLike, dirname: str, summary: dict) -> Path:
    path = summary_path(output, dirname)
    write_json(path, summary, indent=None)
    return path


def write_empty_run(backend: str, output: str | os.PathLike, dirname: str,
                    argv: Sequence[str] | None = None) -> dict:
    """An empty shard: an empty output folder and a summary with no files (no engine started)."""
    check_dirname(dirname)
    (Path(output) / dirname).mkdir(parents=True, exist_ok=True)
    print(f"infer[{backend}]: no input tensors (empty shard); nothing to run", file=sys.stderr)
    summary = build_summary(RunRecord(), {"backend": backend, "batch_size": 1}, argv)
    write_summary(output, dirname, summary)
    return summary


def run_local(engine, input_dir: str | os.PathLike, output: str | os.PathLike, dirname: str,
              batch_size: int = 1, argv: Sequence[str] | None = None,
              progress: bool = True, num_joints: int = 17) -> dict:
    """Whole infer stage for an in-process engine (onnxruntime, torch): returns the summary.

    ``engine`` has ``forward`` (see :func:`run_engine`), ``info()`` (a dict: backend, device,
    threads, providers, session_startup_s, ...).
    """
    check_dirname(dirname)
    inputs = discover_inputs(input_dir)
    (Path(output) / dirname).mkdir(parents=True, exist_ok=True)
    clear_outputs(inputs, output, dirname)
    info = dict(engine.info())
    if progress:
        print(f"infer[{info.get('backend')}]: {len(inputs)} input(s) from {input_dir} -> "
              f"{Path(output) / dirname} (device {info.get('device')}, threads "
              f"{info.get('threads')}, batch size {batch_size}, session start-up "
              f"{info.get('session_startup_s', 0):.2f} s)", file=sys.stderr, flush=True)
    record = run_engine(engine.forward, inputs, output, dirname, batch_size,
                        label=f"infer[{info.get('backend')}] {dirname}", progress=progress)
    verify_outputs(inputs, output, dirname, num_joints)
    info.update(engine.info())  # what the run itself found (engines reused, fp16 deviation)
    info["batch_size"] = batch_size
    summary = build_summary(record, info, argv)
    write_summary(output, dirname, summary)
    return summary
