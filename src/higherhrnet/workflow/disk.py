"""Disk the per-image intermediates of a run will hold at their peak, checked before any job.

Per image and pass (normal and flipped), from the input shape its size and the shape policy
give: the preprocessed tensor ``float32 [1, 3, H, W]`` and the two raw network outputs
``float32 [1, 34, H/4, W/4]`` and ``[1, 17, H/2, W/2]``, each an ``.npy`` with a 128-byte header.
What is kept (``keep_intermediates``) stays for the whole run. What is temp counts for the
shards in flight, both passes: the workflow's scheduling (higherhrnet.workflow.scheduling) holds
the tensors of at most the jobs that run at once plus one. Temp raw outputs: postprocess, the
highest priority, consumes a shard's as soon as both passes are done, but nothing orders a
shard's normal and flip passes (a dependency between them hides re-runs in Snakemake 9.27), so
one pass's raw outputs may wait for the other's in every shard: one pass in full plus the
shards in flight of the other.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..data.coco import ImageRecord, shard_bounds
from ..errors import WorkflowError
from ..preprocess.shapes import OUTPUTS, input_geometry

NPY_HEADER = 128
PASSES = 2  # normal and flipped
GB = 1e9
#: HigherHRNet-W32's ONNX: 28.6 M float32 parameters (counted while the model is not exported yet)
ONNX_BYTES = 115_000_000


def tensor_bytes(input_h: int, input_w: int) -> int:
    return 3 * input_h * input_w * 4 + NPY_HEADER


def raw_output_bytes(input_h: int, input_w: int) -> int:
    return sum(c * (input_h // s) * (input_w // s) * 4 + NPY_HEADER for _, c, s in OUTPUTS)


def window_max(values: Sequence[int], width: int) -> int:
    """Largest sum of ``width`` consecutive values (all of them when fewer)."""
    if not values:
        return 0
    width = min(width, len(values))
    best = cur = sum(values[:width])
    for i in range(width, len(values)):
        cur += values[i] - values[i - width]
        best = max(best, cur)
    return best


@dataclass(frozen=True)
class DiskEstimate:
    images: int
    tensors_bytes: int  # both passes, kept or the in-flight peak
    raw_outputs_bytes: int
    model_bytes: int
    keep_tensors: bool
    keep_raw_outputs: bool
    shards_in_flight: int

    @property
    def total(self) -> int:
        return self.tensors_bytes + self.raw_outputs_bytes + self.model_bytes

    def as_dict(self) -> dict:
        return {**asdict(self), "total_bytes": self.total}


def estimate(records: Sequence[ImageRecord], num_shards: int, policy: str, keep_tensors: bool,
             keep_raw_outputs: bool, shards_in_flight: int, model_bytes: int = 0,
             input_size: int = 512, scales: Sequence[float] = (1.0,)) -> DiskEstimate:
    """Peak bytes of the run's intermediates (see the module docstring) plus ``model_bytes``;
    ``shards_in_flight``: how many shards hold temp tensors or temp raw outputs at once."""
    tensors, raw = [], []
    for shard in range(num_shards):
        start, stop = shard_bounds(len(records), shard, num_shards)
        t = r = 0
        for rec in records[start:stop]:
            for scale in scales:  # the multi-scale test: every scale's tensors and outputs
                g = input_geometry(rec.width, rec.height, policy, input_size, scale, min(scales))
                t += tensor_bytes(g.input_h, g.input_w)
                r += raw_output_bytes(g.input_h, g.input_w)
        tensors.append(t)
        raw.append(r)

    def peak(per_shard: list[int], kept: bool) -> int:
        return PASSES * (sum(per_shard) if kept else window_max(per_shard, shards_in_flight))

    raw_peak = (peak(raw, True) if keep_raw_outputs
                else sum(raw) + window_max(raw, shards_in_flight))
    return DiskEstimate(len(records), peak(tensors, keep_tensors), raw_peak,
                        model_bytes, keep_tensors, keep_raw_outputs, shards_in_flight)


def folder_bytes(paths: Iterable[str | os.PathLike]) -> int:
    """Bytes held by the files under these folders (missing ones count 0)."""
    total = 0
    for root in paths:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except FileNotFoundError:
                    pass
    return total


def free_bytes(path: str | os.PathLike) -> int:
    """Free bytes (for this user) on the file system of ``path`` or its nearest existing parent."""
    p = Path(path).absolute()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def gb(n: int) -> str:
    return f"{n / GB:.2f} GB"


@dataclass(frozen=True)
class Option:
    """A change to the config (``setting``, as the user writes it) and the estimate under it."""

    setting: str
    estimate: DiskEstimate
    note: str = ""
    group: str = "keep"  # keep, shards, or both: one suggestion a group


def check(est: DiskEstimate, where: str | os.PathLike, free: int, reusable: int = 0,
          options: Sequence[Option] = ()) -> None:
    """Raise WorkflowError naming the need, the free space and the config keys when the
    estimate does not fit in ``free`` plus ``reusable`` (what earlier runs' intermediates
    already hold there: they are replaced, not added to). Of ``options`` (config changes,
    least intrusive first) only those that fit are suggested, the first one of each setting;
    when none fits, the message says how much the leanest one still needs, and where."""
    room = free + reusable
    if est.total <= room:
        return
    at_once = f"temp, {est.shards_in_flight} shards at once"
    tensors = "kept: keep_intermediates.preprocessed" if est.keep_tensors else at_once
    raw = ("kept: keep_intermediates.raw_outputs" if est.keep_raw_outputs
           else f"temp, one pass in full and {est.shards_in_flight} shards of the other")
    parts = [f"preprocessed tensors {gb(est.tensors_bytes)} ({tensors})",
             f"raw network outputs {gb(est.raw_outputs_bytes)} ({raw})"]
    if est.model_bytes:
        parts.append(f"ONNX model {gb(est.model_bytes)}")
    hints, seen = [], set()
    for opt in options:
        if opt.estimate.total <= room and opt.group not in seen and not (
                opt.group == "both" and seen):  # both only when neither alone fits
            seen.add(opt.group)
            hints.append(f"set {opt.setting} (needs about {gb(opt.estimate.total)}"
                         + (f"; {opt.note}" if opt.note else "") + ")")
    if not hints:
        leanest = min(options, key=lambda o: o.estimate.total, default=None)
        if leanest is not None and leanest.estimate.total < est.total:
            need = leanest.estimate.total
            hints.append(f"no setting makes it fit here (even {leanest.setting} needs about "
                         f"{gb(need)}): free at least {gb(need - room)} more in {where}, or "
                         "run in a folder on a file system with that much free")
        else:
            hints.append(f"free at least {gb(est.total - room)} more in {where}, or run in a "
                         "folder on a file system with that much free")
    else:
        hints.append("free some space or run in a folder on a larger file system")
    raise WorkflowError(
        f"not enough disk for this run in {where}: it needs about {gb(est.total)} for "
        f"{est.images} images ({', '.join(parts)}), but only {gb(free)} are free"
        + (f" (+ {gb(reusable)} held by earlier intermediates)" if reusable >= GB / 100 else "")
        + ". To fit: " + "; or ".join(hints) + ".")


def options(plan, num_shards: int, images: int, keep_tensors: bool,
            keep_raw_outputs: bool) -> list[Option]:
    """The config changes that lower the peak, least intrusive first: temp raw outputs, temp
    tensors, both; more shards (what is temp is held for fewer images at once); more shards
    with everything temp. ``plan(keep_tensors, keep_raw, shards)``: the estimate under those
    settings."""
    rerun = "a postprocess change then re-runs inference"
    out = []
    if keep_raw_outputs:
        out.append(Option("keep_intermediates.raw_outputs: false",
                          plan(keep_tensors, False, num_shards), rerun))
    if keep_tensors:
        out.append(Option("keep_intermediates.preprocessed: false",
                          plan(False, keep_raw_outputs, num_shards)))
    lean = ("keep_intermediates: false" if keep_tensors and keep_raw_outputs else
            "keep_intermediates.raw_outputs: false" if keep_raw_outputs else
            "keep_intermediates.preprocessed: false" if keep_tensors else "")
    if keep_tensors and keep_raw_outputs:
        out.append(Option(lean, plan(False, False, num_shards), rerun))
    more = []
    k = num_shards
    while k < images:
        k = min(images, k * 2)
        more.append(k)
    if not (keep_tensors and keep_raw_outputs):  # shards change only what is temp
        out += [Option(f"shards: {k}", plan(keep_tensors, keep_raw_outputs, k), group="shards")
                for k in more]
    if lean:
        out += [Option(f"{lean} and shards: {k}", plan(False, False, k),
                       rerun if keep_raw_outputs else "", group="both") for k in more]
    return out


def check_run(annotations: str | os.PathLike, num_shards: int, policy: str, keep_tensors: bool,
              keep_raw_outputs: bool, shards_in_flight: int, onnx: str | None,
              results: str | os.PathLike, intermediates: Sequence[str | os.PathLike],
              input_size: int = 512, scales: Sequence[float] = (1.0,)) -> DiskEstimate:
    """The workflow's pre-check: estimate from the annotations' image sizes, the ONNX model
    (counted while ``onnx`` does not exist), free space where ``results`` goes, the space the
    ``intermediates`` folders already hold (replaced, not added to). Raises WorkflowError."""
    from ..data.coco import image_records, load_keypoint_annotations

    records = image_records(load_keypoint_annotations(annotations))
    model = ONNX_BYTES if onnx and not Path(onnx).exists() else 0

    def plan(keep_t: bool, keep_raw: bool, shards: int) -> DiskEstimate:
        return estimate(records, shards, policy, keep_t, keep_raw, shards_in_flight, model,
                        input_size, scales)

    est = plan(keep_tensors, keep_raw_outputs, num_shards)
    check(est, Path(results).absolute(), free_bytes(results), folder_bytes(intermediates),
          options(plan, num_shards, len(records), keep_tensors, keep_raw_outputs))
    return est
