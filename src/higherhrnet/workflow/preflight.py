"""The checks that stop a run before any job, each a plain function of the config (and of the
file system where it must look), and :func:`preflight`, the one call ``rules/common.smk``
makes. A problem raises :class:`~.config.ConfigProblem` naming the key and what to do."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from ..data.download import coco_layout, unpacked_by_workflow
from ..errors import WorkflowError, first_few
from ..inference.ascend import paths as ais_bench_paths
from ..model.variants import VARIANTS
from .config import Settings, fail
from .paths import Paths

#: Invocations that write no intermediates (and must work on a full disk: --unlock, clean-up)
NO_DISK_CHECK = frozenset({
    "--unlock", "--delete-temp-output", "--delete-all-output", "--report", "--lint",
    "--list-changes", "--lc", "--cleanup-metadata", "--cm", "--summary", "--detailed-summary",
    "--touch", "-t", "--dag", "--rulegraph", "--filegraph",
})


def is_dry_run(dryrun_flag: bool, argv: Sequence[str]) -> bool:
    """-n / --dry-run: Snakemake 9 runs a dry run through a pseudo-executor that is set after
    the Snakefile is parsed (workflow.dryrun is still False then), so read the command line
    too; short flags may be bundled (-np)."""
    if dryrun_flag:
        return True
    for arg in argv[1:]:
        if arg in ("--dry-run", "--dryrun", "--just-print"):
            return True
        if arg.startswith("-") and not arg.startswith("--") and arg[1:].isalpha() and "n" in arg:
            return True
    return False


def check_cross_fields(config: dict) -> None:
    """Rules between config keys that the schema cannot say."""
    from ..inference.tensorrt_engines import config_problem

    problem = config_problem(config)
    if problem:
        fail(problem)
    p = config["postprocess"]
    if p["nms_kernel"] != 2 * p["nms_padding"] + 1:
        fail(f"postprocess.nms_kernel {p['nms_kernel']} with postprocess.nms_padding "
             f"{p['nms_padding']} does not keep the map size (the heatmap NMS needs "
             "nms_kernel = 2 * nms_padding + 1, e.g. 5 and 2)")


def check_unpack_target(download_dir: str, coco_root: str) -> None:
    """unpack_coco replaces <download_dir>/images/val2017 and the annotation json: refuse
    when they exist but were not written by it (the user's own files)."""
    ann, img = coco_layout(download_dir)
    if (ann.is_file() and img.is_dir()) or unpacked_by_workflow(download_dir):
        return
    theirs = [str(p) for p in (img, ann) if p.exists()]
    if theirs:
        fail(f"dataset.download_dir {download_dir}: {' and '.join(theirs)} exist(s) but "
             "was not written by this workflow, and unpacking val2017 there would replace "
             f"it; dataset.coco_root {coco_root} is incomplete (it needs "
             "annotations/person_keypoints_val2017.json and images/val2017/). Complete "
             "that layout, or point dataset.download_dir at a folder of its own")


def looked_at(path: str) -> str:
    """`` (looked at /abs/path)`` for a relative path: Snakemake reads it relative to the
    working directory (``--directory``), which the message must name; empty when absolute."""
    return "" if Path(path).is_absolute() else f" (looked at {Path(path).absolute()})"


def coco_folder_inputs(d: dict, name: str = "coco_folder") -> tuple[str, str]:
    """dataset.name coco_folder or crowdpose: its annotation json and image folder, which
    must exist."""
    if not d["annotations"] or not d["images"]:
        fail(f"dataset.name is {name}: set dataset.annotations and dataset.images")
    if not Path(d["annotations"]).is_file():
        fail(f"dataset.annotations: {d['annotations']} does not exist or is not a file"
             f"{looked_at(d['annotations'])}")
    if not Path(d["images"]).is_dir():
        fail(f"dataset.images: {d['images']} does not exist or is not a folder"
             f"{looked_at(d['images'])}")
    return d["annotations"], d["images"]


def coco_val2017_inputs(d: dict) -> tuple[str, str]:
    """The guide's layout under coco_root as-is when complete (no download in the DAG), else
    what download + unpack produce under download_dir."""
    ann, img = coco_layout(d["coco_root"])
    if ann.is_file() and img.is_dir():
        return str(ann), str(img)
    check_unpack_target(d["download_dir"], d["coco_root"])
    ann, img = coco_layout(d["download_dir"])
    return str(ann), str(img)


def image_folder_scan(d: dict):
    """dataset.name images: the folder's images (a FolderScan, with what it skipped: folders
    that cannot be read, symlink loops, names that are not UTF-8), refusing a missing,
    unreadable or empty folder or one where no image is readable."""
    from ..data.image_folder import check_some_readable, scan

    if not d["images"]:
        fail("dataset.name is images: set dataset.images to your folder of images")
    try:
        found = scan(d["images"])
        check_some_readable(d["images"], found.images)
    except WorkflowError as exc:
        fail(f"{exc}{looked_at(d['images'])}")
    return found


def image_folder_images(d: dict) -> list:
    """dataset.name images: the images a run uses (see :func:`image_folder_scan`)."""
    return image_folder_scan(d).images


def check_annotated_images(annotations: str, images: str) -> None:
    """Every image the annotations list must be in the images folder: say which are missing
    now, not in their preprocess job after the model export. Annotations that are not there
    yet (a first download) are checked next time; a malformed file is refused here too."""
    from ..data.coco import image_records, load_keypoint_annotations
    from ..data.images import shown

    if not Path(annotations).is_file():
        return
    try:
        records = image_records(load_keypoint_annotations(annotations))
    except WorkflowError as exc:
        fail(str(exc))
    missing = [r.file_name for r in records
               if not os.path.isfile(os.path.join(images, r.file_name))]
    if missing:
        fail(f"dataset.images: {len(missing)} of the {len(records)} images listed in "
             f"{annotations} are missing from {shown(images)} (or not files): "
             f"{first_few(map(shown, missing))}. Copy them there, or point dataset.images "
             "at the folder that holds them")


def check_video(d: dict):
    """dataset.name video: the file must be there and decodable; returns its VideoInfo."""
    from ..data.video import probe_video

    if not d["video"]:
        fail("dataset.name is video: set dataset.video to your video file")
    try:
        return probe_video(d["video"])
    except WorkflowError as exc:
        fail(f"{exc}{looked_at(d['video'])}")


@dataclass
class Inputs:
    """What the checks resolved: the dataset's annotations (own data: the per-shard listing
    pattern) and images (own data: the folder, or the per-shard frames pattern), the own
    folder's images, the weights file, warnings for the start-up log, at most how many
    images the run has (None: not known before any job) and the settings with the shards
    planned (:func:`plan_shards`)."""

    annotations: str
    images: str
    weights: str = ""
    folder_images: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    most_images: int | None = None
    settings: Settings | None = None


def annotation_images(path: str) -> int | None:
    """How many images a COCO annotation file lists (None when it cannot be read: the
    start-up check of its images names the problem)."""
    from ..data.coco import load_keypoint_annotations

    try:
        return len(load_keypoint_annotations(path)["images"])
    except WorkflowError:
        return None


def sampled_frames_at_most(d: dict, frame_count: int) -> int | None:
    """The frames a video run samples: at most max_frames, and about frame_count / stride
    (the container's estimate; 0 when it has none)."""
    bounds = [b for b in (d["max_frames"], -(-frame_count // d["frame_stride"])) if b > 0]
    return min(bounds) if bounds else None


def check_keypoints_match(s: Settings, annotations: str | None = None) -> None:
    """The model's joints fit the dataset's: a COCO set needs a COCO model, CrowdPose a
    CrowdPose one (their evaluations need their own joints); own images and the synthetic
    set (made with the model's joints) take either. ``annotations`` (a user's json) is read
    to check its person category has the model's number of keypoints."""
    from ..data.coco import keypoints_of, load_keypoint_annotations

    kind = {"coco_val2017": "coco", "coco_folder": "coco", "crowdpose": "crowdpose"}
    want = kind.get(s.dataset)
    if want and want != s.keypoints:
        fits = ", ".join(v.name for v in VARIANTS.values() if v.keypoints == want)
        fail(f"dataset.name {s.dataset} is evaluated on {want} keypoints, but model.variant "
             f"{s.variant.name} predicts {s.keypoints} ones: choose one of {fits}")
    if want and annotations:
        try:
            theirs = keypoints_of(load_keypoint_annotations(annotations))
        except WorkflowError as exc:
            fail(str(exc))
        if theirs != want:
            fail(f"dataset.annotations {annotations}: holds {theirs} keypoints, but "
                 f"dataset.name {s.dataset} and model.variant {s.variant.name} need {want} "
                 "ones")


def dataset_inputs(config: dict, s: Settings, p: Paths) -> Inputs:
    """The dataset's inputs and its image count, read where it is known before any job and
    the same in every process (Snakemake parses the workflow again in each cluster job): the
    synthetic set's configured size, the folder's images, the video's sampled frames, and the
    annotation file the user gave (never one the run itself downloads and unpacks)."""
    d = config["dataset"]
    if s.dataset in ("coco_val2017", "coco_folder", "crowdpose"):
        check_keypoints_match(s)
    if s.dataset == "synthetic":
        return Inputs(p.synthetic_annotations, p.synthetic_images,
                      most_images=d["synthetic_images"])
    if s.dataset == "images":
        found = image_folder_scan(d)
        return Inputs(p.listing, d["images"], folder_images=found.images,
                      warnings=found.warnings(d["images"]), most_images=len(found.images))
    if s.dataset == "video":
        info = check_video(d)
        return Inputs(p.listing, p.frames,
                      most_images=sampled_frames_at_most(d, info.frame_count))
    if s.dataset in ("coco_folder", "crowdpose"):
        inputs = Inputs(*coco_folder_inputs(d, s.dataset))
        check_keypoints_match(s, inputs.annotations)
    else:
        inputs = Inputs(*coco_val2017_inputs(d))
        if inputs.annotations != str(coco_layout(d["coco_root"])[0]):
            return inputs  # the download's: absent until a job unpacks it
    inputs.most_images = annotation_images(inputs.annotations)
    return inputs


def plan_shards(s: Settings, inputs: Inputs, announce: bool = False) -> Settings:
    """``s`` with shards capped to the images (issue 27): a shard without images would still
    cost its six jobs. COCO sets are cut into contiguous blocks (data.coco.shard_bounds), so
    with n images only shards 0..n-1 hold any; an own folder's image goes to shard id % shards,
    so only the shards its images fall in get jobs. Both keep --num-shards as configured: the
    same image stays in the same shard, so a later run with more images redoes only the
    shards that changed. A video's j-th frame goes to shard j % shards, whatever their number:
    there the count itself is capped (the frame count is an estimate). ``announce``: one
    message on stderr when the cap applies (the main process; a job parses it again)."""
    if s.dataset == "images":
        from ..data.image_folder import shard_of

        ids = tuple(sorted({shard_of(im.id, s.shards) for im in inputs.folder_images}))
        planned = replace(s, shard_ids=ids) if len(ids) < s.shards else s
    elif inputs.most_images is None or inputs.most_images >= s.shards:
        planned = s
    elif s.dataset == "video":
        planned = replace(s, shards=max(1, inputs.most_images))
    else:
        planned = replace(s, shard_ids=tuple(range(max(1, inputs.most_images))))
    if announce and planned != s:
        what = "frame(s) at most" if s.dataset == "video" else "image(s)"
        print(f"shards: {s.shards} for {inputs.most_images} {what}: "
              f"{len(planned.run_shards)} shard(s) get jobs, the others would hold no image",
              file=sys.stderr, flush=True)
    return planned


def weights_path(config: dict, s: Settings, p: Paths) -> str:
    w = config["weights"]
    if w["source"] == "synthetic":
        return p.synthetic_weights
    if w["source"] == "official" and not s.variant.official:
        fail(f"model.variant {s.variant.name}: {s.variant.title} has no official download "
             "address (only w32_512 has one; the reference's other files are in its authors' "
             "cloud folders): download it yourself and set weights.source: local and "
             "weights.path to the .pth / .pth.tar")
    if w["source"] == "local":
        if not w["path"]:
            fail("weights.source is local: set weights.path to a .pth file")
        if not Path(w["path"]).is_file():
            fail(f"weights.path: {w['path']} does not exist or is not a file")
        return w["path"]
    return p.official_weights


def check_ais_bench_paths(paths: Sequence[str]) -> None:
    """ais_bench refuses bad characters and symbolic links before it runs (its path rule):
    say so now, not after hours of preprocessing. Modes are fixed by the jobs themselves."""
    problems = []
    for path in paths:
        problems += ais_bench_paths.string_violations(path)
        if Path(path).is_symlink():
            problems.append(f"{path}: is a symbolic link")
    if problems:
        fail(f"backend ascend: {len(problems)} path(s) handed to ais_bench break its rule: "
             f"{'; '.join(problems[:5])}. {ais_bench_paths.RULE}")


def check_backend(config: dict, s: Settings, p: Paths, weights: str) -> None:
    """The backend's own check (its record), then, for a backend whose tools take paths
    under ais_bench's rule, the paths the rules will hand them."""
    problem = s.backend.check(config)
    if problem:
        fail(problem)
    if s.backend.compiled_shapes:
        model = p.model(s.backend.loads, weights)
        check_ais_bench_paths(p.ais_bench_handed(model, s.run_shards, s.geos))


def check_disk(config: dict, s: Settings, p: Paths, annotations: str, at_once: int) -> None:
    """Refuse a run whose intermediates will not fit (workflow.disk), when the annotations are
    there to size the images (a first download is sized next time). ``at_once``: the
    shard-passes whose temp tensors and raw outputs exist together (see scheduling)."""
    from .disk import check_run

    keep = config["keep_intermediates"]
    try:
        check_run(annotations, s.shards, s.shape_policy,
                  keep["preprocessed"], keep["raw_outputs"], at_once,
                  None if s.backend.loads == "pth" else p.onnx, p.ds, p.tensor_dirs(s.geos),
                  s.input_size, list(s.scales))
    except WorkflowError as exc:
        fail(str(exc))


def disk_check_wanted(config: dict, s: Settings, annotations: str, *, dry_run: bool,
                      main_process: bool, argv: Sequence[str]) -> bool:
    """Own images and videos have no annotations to size them by; dry runs, jobs a cluster
    runs and invocations that write nothing are not checked."""
    return not (s.own or dry_run or not config["disk_check"] or not main_process
                or NO_DISK_CHECK & set(argv) or not Path(annotations).is_file())


def preflight(config: dict, s: Settings, p: Paths, *, dry_run: bool, main_process: bool,
              argv: Sequence[str], at_once: int) -> Inputs:
    """Every check before any job, in order: config cross-fields, dataset (with the images
    its annotations list), weights, the backend's tools (not on a dry run), disk. Returns the
    resolved inputs, with the settings whose shards are planned (:func:`plan_shards`) in
    ``inputs.settings``."""
    check_cross_fields(config)
    inputs = dataset_inputs(config, s, p)
    if main_process:
        for warning in inputs.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if not s.own and s.dataset != "synthetic" and main_process and not NO_DISK_CHECK & set(argv):
        check_annotated_images(inputs.annotations, inputs.images)
    s = inputs.settings = plan_shards(s, inputs, announce=main_process)
    inputs.weights = weights_path(config, s, p)
    if not dry_run:
        check_backend(config, s, p, inputs.weights)
    if disk_check_wanted(config, s, inputs.annotations, dry_run=dry_run,
                         main_process=main_process, argv=argv):
        check_disk(config, s, p, inputs.annotations, at_once)
    return inputs
