"""What each artifact is made from: one digest per stage of the config values and the code of
that stage and of every stage upstream of it (issue 21, item 1).

Snakemake re-runs a job whose params changed, but only a job whose output is there: when a
job fails or is killed its output is deleted, and a missing intermediate is not rebuilt while
everything after it looks up to date (the old ``keypoints_results.json`` stayed "current"
after a postprocess at a new threshold failed). The rules downstream of something that can
change therefore carry :func:`made_from` of their stage as a ``params:`` entry: any change
upstream changes it, so the next run re-runs that job, which needs its inputs again, which
rebuilds whatever is missing on the way.

Only what decides the artifacts goes in: the values the stages' own ``params:`` pass (the
same functions of the config, so a value re-runs its stage and everything after it), and the
code digests of the rules (:func:`higherhrnet.workflow.code_digest.rule_digest`). Paths of the
per-scale/per-shard artifacts already carry the scale and shard, so those stay out (a new
scale re-runs only the new scale's tensors). File contents (weights, annotations) are
Snakemake's own mtime/checksum triggers and stay out too.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Callable

from . import args
from .config import Settings

#: stage -> the stages it is made from
UPSTREAM: dict[str, tuple[str, ...]] = {
    "dataset": (),
    "model": (),
    "preprocess": ("dataset",),
    "infer": ("preprocess", "model"),
    "postprocess": ("infer",),
    "gather_results": ("postprocess",),
    "evaluate": ("gather_results", "dataset"),
    "metrics_table": ("evaluate",),
    "draw_skeletons": ("gather_results", "dataset"),
    "plot_stage_times": ("postprocess",),
    "predictions": ("gather_results", "dataset"),
    "draw_predictions": ("predictions",),
    "annotate_video": ("predictions",),
    "predictions_report": ("predictions",),
    "benchmark_model": ("model",),
}

#: dataset.* keys that choose the images, per dataset name (the rest of the section: where
#: downloads go, or another dataset's keys)
DATASET_KEYS = {
    "coco_val2017": ("coco_root",),
    "coco_folder": ("annotations", "images"),
    "crowdpose": ("annotations", "images"),
    "images": ("images",),
    "video": ("video", "frame_stride", "max_frames"),
    "synthetic": ("synthetic_images", "synthetic_seed"),
}


def dataset_rules(s: Settings) -> list[str]:
    """The rules that make the dataset's own inputs (the COCO downloads are the fixed official
    files, checked by md5: their code stays out)."""
    return {"images": ["list_images"], "video": ["extract_frames"],
            "synthetic": ["make_synthetic_dataset"]}.get(s.dataset, [])


def model_rules(config: dict, s: Settings) -> list[str]:
    """The rules that make the model the backend loads."""
    names = ["make_synthetic_weights"] if config["weights"]["source"] == "synthetic" else []
    if s.backend.loads != "pth":
        names.append("export_onnx")
    if s.backend.loads == "om":
        names.append("compile_om" if s.aoe == "off" else "tune_om")
    return names


def stage_values(config: dict, s: Settings, stage: str) -> dict:
    """The config values a stage's own jobs are made from (as their params pass them)."""
    if stage == "dataset":
        d = config["dataset"]
        values = {"name": s.dataset, **{k: d[k] for k in DATASET_KEYS.get(s.dataset, ())}}
        if s.dataset == "synthetic":  # its labels follow the model's joints
            values["keypoints"] = s.keypoints
        return values
    if stage == "model":
        values = {"weights": config["weights"]["source"], "path": config["weights"]["path"],
                  "variant": s.variant.name, "loads": s.backend.loads}
        if s.backend.loads != "pth":
            values["opset"] = config["export"]["opset"]
        if s.backend.loads == "om":
            a = config["ascend"]
            values.update(soc=a["soc_version"], aoe=s.aoe, shapes=args.shape_args(s),
                          policy=s.compiled_policy,
                          precision=a["precision_mode"], atc=a["atc_extra_args"],
                          aoe_args=a["aoe_extra_args"])
        return values
    if stage == "preprocess":
        return {"policy": s.shape_policy, "shards": s.shards}
    if stage == "infer":  # the thread count changes no output
        return {"backend": s.backend.name,
                "args": re.sub(r"--threads \d+ ?", "", args.infer_args(config, s))}
    if stage == "postprocess":
        return {**config["postprocess"], "scales": s.scales_arg}
    if stage == "benchmark_model":
        b = config["benchmark_model"]
        # its numbers are speeds at the rule's thread count (the shell's --threads {threads})
        return {**{k: v for k, v in b.items() if k != "enabled"},
                "args": args.benchmark_args(config, s), "threads": config["infer"]["threads"]}
    if stage in UPSTREAM:
        return {}
    raise ValueError(f"unknown stage {stage!r}; known: {', '.join(UPSTREAM)}")


def stage_rules(config: dict, s: Settings, stage: str) -> list[str]:
    """The rules whose code makes a stage's artifacts."""
    if stage == "dataset":
        return dataset_rules(s)
    if stage == "model":
        return model_rules(config, s)
    return [stage]


def made_from(config: dict, s: Settings, stage: str, code: Callable[[str], str]) -> str:
    """Digest (16 hex digits) of what ``stage``'s artifacts are made from: its config values
    and code (``code(rule)``: a rule's code digest) and those of every stage upstream."""

    def record(name: str) -> dict:
        return {"stage": name, "values": stage_values(config, s, name),
                "code": {r: code(r) for r in stage_rules(config, s, name)},
                "from": [record(u) for u in UPSTREAM[name]]}

    text = json.dumps(record(stage), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
