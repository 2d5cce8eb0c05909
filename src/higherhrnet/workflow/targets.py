"""What a run ends in (the default target), and which stages' benchmark files the report's
time-per-stage plot reads."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import WorkflowError, first_few
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


def stage_rules(s: Settings, benchmark_model: bool = False) -> list[str]:
    """The rules whose benchmark files the report reads, as the run has them: every job's
    rule but the report's own and the data/weights preparation (``benchmark_model``: the
    config's benchmark_model.enabled, a rule of COCO runs only)."""
    names = [*PER_SHARD_STAGES, "gather_results"]
    if s.dataset == "images":
        names = ["list_images", *names, "predictions", "draw_predictions"]
    elif s.dataset == "video":
        names = ["extract_frames", *names, "predictions", "annotate_video"]
    else:
        names += ["evaluate", "draw_skeletons"]
        if benchmark_model:
            names.append("benchmark_model")
    if s.backend.loads != "pth":
        names.append("export_onnx")
    if s.backend.loads == "om":
        names.append("compile_om" if s.aoe == "off" else "tune_om")
    if s.trt_tag:
        names.append("build_trt_engines")
    return names


def shard_ids(shards: int | Iterable[int]) -> Iterable[int]:
    """Shard numbers: 0 .. shards - 1 for a count, else the given ones (Settings.run_shards)."""
    return range(shards) if isinstance(shards, int) else shards


def expand_benchmark(pattern: str, shards: int | Iterable[int], geos: list[str]) -> list[str]:
    """A rule's benchmark pattern for every shard (and scale tag) it has."""
    if "{shard}" not in pattern:
        return [pattern]
    return [pattern.format(shard=k, geo=g) for k in shard_ids(shards)
            for g in (geos if "{geo}" in pattern else [""])]


def per_scale(pattern: str, geos: list[str], shard) -> list[str]:
    """``pattern`` (with {geo} and {shard}) of one shard for every scale, in visiting order."""
    return [pattern.format(geo=g, shard=shard) for g in geos]


def shard_paths(pattern: str, shards: int | Iterable[int]) -> list[str]:
    return [pattern.format(shard=k) for k in shard_ids(shards)]


def scale_shard_paths(pattern: str, geo: str, shards: int | Iterable[int]) -> list[str]:
    """``pattern`` (with {geo} and {shard}) of one scale for every shard (a count, or the
    ids of the shards that get jobs)."""
    return [pattern.format(geo=geo, shard=k) for k in shard_ids(shards)]


def all_shards_and_scales(pattern: str, shards: int | Iterable[int], geos: list[str]) -> list[str]:
    """``pattern`` (with {geo} and {shard}) of every shard (a count, or the ids of the shards
    that get jobs) and scale of the run."""
    return [pattern.format(geo=g, shard=k) for k in shard_ids(shards) for g in geos]


def benchmark_after(s: Settings, p: Paths) -> str:
    """What the per-shape benchmark waits for: the metrics (COCO) or the predictions (own
    data), so that no result ever waits for a performance table."""
    return p.result("predictions.json" if s.own else "metrics.json")


def shard_image_files(folder: str, images: list, shard: int, shards: int) -> list[str]:
    """The image files of one shard (id % shards) of an own folder, so that a change to one
    image or an added one re-runs only its shard's listing."""
    from ..data.image_folder import shard_images

    return [str(Path(folder) / im.file_name) for im in shard_images(images, shard, shards)]


def asks_for_report(argv) -> bool:
    """``snakemake --report [FILE]`` of a finished run (not the --report-* options, not
    --report-after-run, which runs the workflow first)."""
    if "--report-after-run" in argv[1:]:
        return False
    return any(a == "--report" or a.startswith("--report=") for a in argv[1:])


def check_report_run(config: dict, s: Settings, p: Paths, argv) -> None:
    """``--report`` builds the report of the run the config names: refuse, before Snakemake
    walks the DAG (a "Missing metadata" warning for each of its files, then an error for the
    first missing report file), when that run's results are not there, most often because
    the report command lacks the run's --configfile / --config."""
    if not asks_for_report(argv):
        return
    missing = [f for f in final_targets(config, s, p) if not Path(f).exists()]
    if missing:
        raise WorkflowError(
            f"--report: no finished run of this config (dataset {s.dataset}, backend "
            f"{s.backend.name}) here ({Path.cwd()}): {first_few(missing, 3)} missing. The "
            "report command must name the same --configfile / --config as the run, e.g. "
            "snakemake --report report.html --configfile tests/configs/synthetic.yaml "
            "after the offline try-out; finish the run first if it stopped")
