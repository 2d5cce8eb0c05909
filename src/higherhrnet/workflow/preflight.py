"""The checks that stop a run before any job, each a plain function of the config (and of the
file system where it must look), and :func:`preflight`, the one call ``rules/common.smk``
makes. A problem raises :class:`~.config.ConfigProblem` naming the key and what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..data.download import coco_layout, unpacked_by_workflow
from ..errors import WorkflowError
from ..inference.ascend import paths as ais_bench_paths
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


def coco_folder_inputs(d: dict) -> tuple[str, str]:
    """dataset.name coco_folder: its annotation json and image folder, which must exist."""
    if not d["annotations"] or not d["images"]:
        fail("dataset.name is coco_folder: set dataset.annotations and dataset.images")
    if not Path(d["annotations"]).is_file():
        fail(f"dataset.annotations: {d['annotations']} does not exist or is not a file")
    if not Path(d["images"]).is_dir():
        fail(f"dataset.images: {d['images']} does not exist or is not a folder")
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


def image_folder_images(d: dict) -> list:
    """dataset.name images: the folder's images, refusing a missing or empty folder or one
    where no image is readable."""
    from ..data.image_folder import check_some_readable, scan_folder

    if not d["images"]:
        fail("dataset.name is images: set dataset.images to your folder of images")
    try:
        images = scan_folder(d["images"])
        check_some_readable(d["images"], images)
    except WorkflowError as exc:
        fail(str(exc))
    return images


def check_video(d: dict) -> None:
    """dataset.name video: the file must be there and decodable."""
    from ..data.video import probe_video

    if not d["video"]:
        fail("dataset.name is video: set dataset.video to your video file")
    try:
        probe_video(d["video"])
    except WorkflowError as exc:
        fail(str(exc))


@dataclass
class Inputs:
    """What the checks resolved: the dataset's annotations (own data: the per-shard listing
    pattern) and images (own data: the folder, or the per-shard frames pattern), the own
    folder's images, and the weights file."""

    annotations: str
    images: str
    weights: str = ""
    folder_images: list = field(default_factory=list)


def dataset_inputs(config: dict, s: Settings, p: Paths) -> Inputs:
    d = config["dataset"]
    if s.dataset == "synthetic":
        return Inputs(p.synthetic_annotations, p.synthetic_images)
    if s.dataset == "images":
        return Inputs(p.listing, d["images"], folder_images=image_folder_images(d))
    if s.dataset == "video":
        check_video(d)
        return Inputs(p.listing, p.frames)
    if s.dataset == "coco_folder":
        return Inputs(*coco_folder_inputs(d))
    return Inputs(*coco_val2017_inputs(d))


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
        check_ais_bench_paths(p.ais_bench_handed(model, s.shards, s.geos))


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
    """Every check before any job, in order: config cross-fields, dataset, weights, the
    backend's tools (not on a dry run), disk. Returns the resolved inputs."""
    check_cross_fields(config)
    inputs = dataset_inputs(config, s, p)
    inputs.weights = weights_path(config, s, p)
    if not dry_run:
        check_backend(config, s, p, inputs.weights)
    if disk_check_wanted(config, s, inputs.annotations, dry_run=dry_run,
                         main_process=main_process, argv=argv):
        check_disk(config, s, p, inputs.annotations, at_once)
    return inputs
