"""What a run ends in (the default target), and which stages' benchmark files the report's
time-per-stage plot reads."""

from __future__ import annotations

from pathlib import Path

from .config import Settings
from .paths import Paths

#: the stages of every run, in the order of the plot
PER_SHARD_STAGES = ["preprocess", "preprocess_flip", "infer", "infer_flip", "postprocess"]


def own_index(s: Settings) -> str:
    """The own data's table of inputs: images.csv or frames.csv."""
    return "frames.csv" if s.dataset == "video" else "images.csv"


def final_targets(config: dict, s: Settings, p: Paths) -> list[str]:
    if s.own:
        return own_targets(s, p, config["benchmark_model"]["enabled"])
    names = ["metrics.json", "metrics.csv", "metrics.html", "stage_times.png", "drawings"]
    if config["benchmark_model"]["enabled"]:  # the COCO report's performance table
        names.append("benchmark_model.html")
    return [p.result(n) for n in names]


def own_targets(s: Settings, p: Paths, benchmark: bool = False) -> list[str]:
    """Predictions, drawings (images) or annotated video, and the report without metrics."""
    names = ["predictions.json", "keypoints.csv", own_index(s), "unreadable.txt", "skeletons",
             "summary.html", "stage_times.png"]
    if benchmark:  # the shapes of the own images (issue 27, item 7)
        names.append("benchmark_model.html")
    return [p.result(n) for n in names + (["annotated.mp4"] if s.dataset == "video" else [])]


def stage_rules(s: Settings) -> list[str]:
    """The rules whose benchmark files the report reads, as the run has them."""
    names = list(PER_SHARD_STAGES)
    if s.dataset == "images":
        names = ["list_images", *names, "draw_predictions"]
    elif s.dataset == "video":
        names = ["extract_frames", *names, "annotate_video"]
    else:
        names.append("evaluate")
    if s.backend.loads != "pth":
        names.append("export_onnx")
    if s.backend.loads == "om":
        names.append("compile_om" if s.aoe == "off" else "tune_om")
    return names


def expand_benchmark(pattern: str, shards: int, geos: list[str]) -> list[str]:
    """A rule's benchmark pattern for every shard (and scale tag) it has."""
    if "{shard}" not in pattern:
        return [pattern]
    return [pattern.format(shard=k, geo=g) for k in range(shards)
            for g in (geos if "{geo}" in pattern else [""])]


def per_scale(pattern: str, geos: list[str], shard) -> list[str]:
    """``pattern`` (with {geo} and {shard}) of one shard for every scale, in visiting order."""
    return [pattern.format(geo=g, shard=shard) for g in geos]


def all_shards_and_scales(pattern: str, shards: int, geos: list[str]) -> list[str]:
    """``pattern`` (with {geo} and {shard}) of every shard and scale of the run."""
    return [pattern.format(geo=g, shard=k) for k in range(shards) for g in geos]


def benchmark_after(s: Settings, p: Paths) -> str:
    """What the per-shape benchmark waits for: the metrics (COCO) or the predictions (own
    data), so that no result ever waits for a performance table."""
    return p.result("predictions.json" if s.own else "metrics.json")


def shard_paths(pattern: str, shards: int) -> list[str]:
    return [pattern.format(shard=k) for k in range(shards)]


def shard_image_files(folder: str, images: list, shard: int, shards: int) -> list[str]:
    """The image files of one shard (id % shards) of an own folder, so that a change to one
    image or an added one re-runs only its shard's listing."""
    from ..data.image_folder import shard_images

    return [str(Path(folder) / im.file_name) for im in shard_images(images, shard, shards)]
