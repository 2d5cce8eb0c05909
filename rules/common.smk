# Helpers shared by the rules: config validation, dataset/weights/model resolution, paths.

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir, "src")))
from higherhrnet.inference.ascend import paths as ais_bench_paths
from higherhrnet.workflow.code_digest import rule_digest
from higherhrnet.workflow.disk import check_run as disk_check
from higherhrnet.data.download import (
    COCO_ANNOTATIONS_TRAINVAL2017,
    COCO_VAL2017_IMAGES,
    unpacked_by_workflow,
)
from higherhrnet.errors import WorkflowError as HHRNetError
from higherhrnet.preprocess.shapes import check_scales, format_scale, shape_set
from higherhrnet.model.variants import get_variant


def coerce_cli_scalars(values, schema):
    """--config parses nested mappings with YAML's BaseLoader, so `postprocess={max_people: 20}`
    arrives as the string "20": read such strings as YAML where the schema wants a non-string.
    """
    for key, value in values.items():
        sub = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict):
            coerce_cli_scalars(value, sub)
        elif isinstance(value, list) and sub.get("type") == "array":
            items = dict(enumerate(value))  # `test={scales: [1, 0.5]}`
            coerce_cli_scalars(
                items, {"properties": dict.fromkeys(items, sub["items"])}
            )
            values[key] = list(items.values())
        elif isinstance(value, str) and sub.get("type") in (
            "integer",
            "number",
            "boolean",
        ):
            try:
                values[key] = yaml.safe_load(value)
            except yaml.YAMLError:
                pass  # left as is: validation names the key


def expand_keep_intermediates(values):
    """`keep_intermediates: true/false` (the one switch of earlier versions) sets both kinds."""
    keep = values.get("keep_intermediates")
    if isinstance(keep, str) and keep.lower() in ("true", "false"):
        keep = keep.lower() == "true"
    if isinstance(keep, bool):
        values["keep_intermediates"] = {"preprocessed": keep, "raw_outputs": keep}


coerce_cli_scalars(
    config,
    yaml.safe_load(Path(workflow.basedir, "schemas", "config.schema.yaml").read_text()),
)
expand_keep_intermediates(config)
validate(config, "../schemas/config.schema.yaml")

DATASET = config["dataset"]["name"]
BACKEND = config["backend"]
SHARDS = list(range(config["shards"]))
NSHARDS = config["shards"]
# results/<dataset>/ holds backend-independent artifacts (preprocessed tensors, manifests);
# results/<dataset>/<backend>/ holds inference outputs, results, metrics and drawings.
DS = f"results/{DATASET}"
RUN = f"{DS}/{BACKEND}"
# Stage CLIs live beside this workflow; shell commands reach them through $HHRNET_SCRIPTS so
# that neither the rules' params nor their provenance depend on where the clone lives.
shell.prefix(
    "set -euo pipefail; export HHRNET_SCRIPTS="
    f"{shlex.quote(str(Path(workflow.basedir, 'scripts')))}; "
)


wildcard_constraints:
    shard=r"\d+",
    # a scale's path tag (see scale_tag): empty for the one-scale test of W32-512
    geo=r"(_\d+_s[0-9.]+_min[0-9.]+)?",


def fail(message):
    raise WorkflowError(f"config problem: {message}")


# ---------------------------------------------------------------- model variant and scales

VARIANT = get_variant(config["model"]["variant"])
INPUT_SIZE = VARIANT.input_size
try:
    SCALES = check_scales(config["test"]["scales"], INPUT_SIZE)  # visiting order
except ValueError as exc:
    fail(str(exc))
MIN_SCALE = min(SCALES)
SCALES_ARG = ",".join(format_scale(s) for s in SCALES)


def scale_tag(scale):
    """The path tag of one scale's tensors, manifests and raw outputs (prep<tag>/,
    infer<tag>/): empty for the one-scale test at input 512 (the paths of one-scale runs),
    else input size, scale and smallest scale (the sizes depend on all three)."""
    if (INPUT_SIZE, scale, MIN_SCALE) == (512, 1.0, 1.0):
        return ""
    return f"_{INPUT_SIZE}_s{format_scale(scale)}_min{format_scale(MIN_SCALE)}"


GEOS = [scale_tag(s) for s in SCALES]


def tag_geometry(wildcards):
    """--input-size, --scale and --min-scale of the preprocess job of a path tag."""
    if not wildcards.geo:
        return "--input-size 512 --scale 1 --min-scale 1"
    size, scale, smallest = re.fullmatch(
        r"_(\d+)_s([0-9.]+)_min([0-9.]+)", wildcards.geo
    ).groups()
    return f"--input-size {size} --scale {scale} --min-scale {smallest}"


def per_scale(pattern, wildcards):
    """``pattern`` (with {geo} and {shard}) for every scale of the test, in visiting order."""
    return [pattern.format(geo=g, shard=wildcards.shard) for g in GEOS]


def dry_run():
    """-n / --dry-run: Snakemake 9 runs a dry run through a pseudo-executor that is set after
    the Snakefile is parsed (workflow.dryrun is still False here), so read the command line
    too; short flags may be bundled (-np)."""
    if workflow.dryrun:
        return True
    for arg in sys.argv[1:]:
        if arg in ("--dry-run", "--dryrun", "--just-print"):
            return True
        if (
            arg.startswith("-")
            and not arg.startswith("--")
            and arg[1:].isalpha()
            and "n" in arg
        ):
            return True
    return False


def maybe_temp(path, kind):
    """Big per-image intermediates are deleted once consumed unless keep_intermediates.<kind>
    (preprocessed or raw_outputs)."""
    return path if config["keep_intermediates"][kind] else temp(path)


# ---------------------------------------------------------------- code-aware re-runs

RULE_FILES = tuple(sorted(Path(workflow.basedir, "rules").glob("*.smk"))) + (
    Path(workflow.basedir, "Snakefile"),
)


def code_version(rule_name):
    """Digest of the code the rule runs (its text, stage script and the library modules that
    script imports, transitively), from contents, not mtimes."""
    return rule_digest(Path(workflow.basedir), rule_name, RULE_FILES)


def with_code(rule_name, command):
    """The rule's shell command with the digest of its code as a trailing comment: Snakemake's
    code trigger compares a rule's shell text, so an edit of the stage's script or of a library
    module it imports re-runs the rule and what follows (`snakemake --list-changes code` names
    its outputs), while a fresh clone or a `touch` re-runs nothing."""
    return f"{command}  # code {code_version(rule_name)}"


def check_cross_fields():
    """Rules between config keys that the schema cannot say, checked before any job."""
    p = config["postprocess"]
    if p["nms_kernel"] != 2 * p["nms_padding"] + 1:
        fail(
            f"postprocess.nms_kernel {p['nms_kernel']} with postprocess.nms_padding "
            f"{p['nms_padding']} does not keep the map size (the heatmap NMS needs "
            "nms_kernel = 2 * nms_padding + 1, e.g. 5 and 2)"
        )


check_cross_fields()


# ---------------------------------------------------------------- dataset


def coco_layout(root):
    root = Path(root)
    return (
        root / "annotations" / "person_keypoints_val2017.json",
        root / "images" / "val2017",
    )


def dataset_inputs():
    """(annotations json, images folder) of the configured dataset.

    coco_val2017 uses the guide's layout as-is when complete (no download rule in the DAG),
    otherwise the download + unpack rules produce the same layout under download_dir.
    """
    d = config["dataset"]
    if DATASET == "synthetic":
        return "resources/synthetic/annotations.json", "resources/synthetic/images"
    if DATASET in OWN_DATASETS:
        return own_dataset_inputs()
    if DATASET == "coco_folder":
        if not d["annotations"] or not d["images"]:
            fail(
                "dataset.name is coco_folder: set dataset.annotations and dataset.images"
            )
        if not Path(d["annotations"]).is_file():
            fail(
                f"dataset.annotations: {d['annotations']} does not exist or is not a file"
            )
        if not Path(d["images"]).is_dir():
            fail(f"dataset.images: {d['images']} does not exist or is not a folder")
        return d["annotations"], d["images"]
    ann, img = coco_layout(d["coco_root"])
    if ann.is_file() and img.is_dir():
        return str(ann), str(img)
    check_unpack_target(d["download_dir"], d["coco_root"])
    ann, img = coco_layout(d["download_dir"])
    return str(ann), str(img)


def check_unpack_target(download_dir, coco_root):
    """unpack_coco replaces <download_dir>/images/val2017 and the annotation json: refuse
    before any job when they exist but were not written by it (the user's own files)."""
    ann, img = coco_layout(download_dir)
    if (ann.is_file() and img.is_dir()) or unpacked_by_workflow(download_dir):
        return
    theirs = [str(p) for p in (img, ann) if p.exists()]
    if theirs:
        fail(
            f"dataset.download_dir {download_dir}: {' and '.join(theirs)} exist(s) but "
            "was not written by this workflow, and unpacking val2017 there would replace "
            f"it; dataset.coco_root {coco_root} is incomplete (it needs "
            "annotations/person_keypoints_val2017.json and images/val2017/). Complete "
            "that layout, or point dataset.download_dir at a folder of its own"
        )


def coco_zip(file):
    """The download path of a COCO zip: temp() (deleted once unpacked) unless it is already
    there when the workflow starts, e.g. fetched by hand as the offline error message says:
    then it is the user's, checked before unpacking and never deleted."""
    path = f"{config['dataset']['download_dir']}/{file.file_name}"
    return path if Path(path).exists() else temp(path)


# dataset.name images | video: the user's own pictures, no annotations. Per shard, a listing
# (a COCO image-info json: ids, files, sizes) takes the place of the annotation file, so the
# preprocess rules read it like one; the run ends in predictions instead of metrics.
OWN_DATASETS = ("images", "video")
LISTING = f"{DS}/listing/shard{{shard}}.json"
FRAMES = f"{DS}/frames/shard{{shard}}"
FOLDER_IMAGES = []


def own_dataset_inputs():
    """(listing, images folder) as functions of the shard, after the checks that can stop a
    run before any work: a missing or empty folder, no readable image, a missing or
    undecodable video."""
    global FOLDER_IMAGES
    d = config["dataset"]
    if DATASET == "images":
        from higherhrnet.data.image_folder import check_some_readable, scan_folder

        if not d["images"]:
            fail("dataset.name is images: set dataset.images to your folder of images")
        try:
            FOLDER_IMAGES = scan_folder(d["images"])
            check_some_readable(d["images"], FOLDER_IMAGES)
        except HHRNetError as exc:
            fail(str(exc))
        # ancient(): adding an image changes the folder's mtime; only the listing of the
        # shard it falls in must change (its input set does, see list_images)
        folder = ancient(d["images"])
        return (lambda w: LISTING.format(shard=w.shard)), (lambda w: folder)
    if not d["video"]:
        fail("dataset.name is video: set dataset.video to your video file")
    from higherhrnet.data.video import probe_video

    try:
        probe_video(d["video"])
    except HHRNetError as exc:
        fail(str(exc))
    return (lambda w: LISTING.format(shard=w.shard)), (
        lambda w: FRAMES.format(shard=w.shard)
    )


def folder_shard_files(wildcards):
    """The image files of one shard (id % shards), so that a change to one image or an
    added one re-runs only its shard's listing."""
    from higherhrnet.data.image_folder import shard_images

    folder = Path(config["dataset"]["images"])
    return [
        str(folder / im.file_name)
        for im in shard_images(FOLDER_IMAGES, int(wildcards.shard), NSHARDS)
    ]


ANNOTATIONS, IMAGES = dataset_inputs()


# ---------------------------------------------------------------- weights and model

OFFICIAL_WEIGHTS = "resources/weights/pose_higher_hrnet_w32_512.pth"
# W32-640 has the W32-512 layout, so the same synthetic weights
SYNTHETIC_LAYOUT = "w32_512" if VARIANT.width == 32 else VARIANT.name
SYNTHETIC_WEIGHTS = (
    f"resources/weights/synthetic_untrained_higherhrnet_{SYNTHETIC_LAYOUT}.pth"
)


def weights_path():
    w = config["weights"]
    if w["source"] == "synthetic":
        return SYNTHETIC_WEIGHTS
    if w["source"] == "official" and not VARIANT.official:
        fail(
            f"model.variant {VARIANT.name}: {VARIANT.title} has no official download "
            "address (only w32_512 has one; the reference's other files are in its authors' "
            "cloud folders): download it yourself and set weights.source: local and "
            "weights.path to the .pth / .pth.tar"
        )
    if w["source"] == "local":
        if not w["path"]:
            fail("weights.source is local: set weights.path to a .pth file")
        if not Path(w["path"]).is_file():
            fail(f"weights.path: {w['path']} does not exist or is not a file")
        return w["path"]
    return OFFICIAL_WEIGHTS


WEIGHTS = weights_path()
# W32-512 keeps the one-variant paths; the others get a folder of their own
MODEL_DIR = (
    "results/model" if VARIANT.name == "w32_512" else f"results/model/{VARIANT.name}"
)
ONNX = f"{MODEL_DIR}/higher_hrnet_dynamic.onnx"
OM = f"{MODEL_DIR}/higher_hrnet_dynamic_{config['ascend']['soc_version']}.om"
# YAML reads a bare `off` as false
AOE = config["ascend"]["aoe"] or "off"
OM_AOE = (
    f"{MODEL_DIR}/higher_hrnet_dynamic_{config['ascend']['soc_version']}_aoe_{AOE}.om"
)


def backend_model():
    """What the configured backend loads: the .om (ascend; AOE-tuned when ascend.aoe is on),
    the .onnx, or the .pth (torch)."""
    om = OM if AOE == "off" else OM_AOE
    return {"ascend": om, "onnxruntime": ONNX, "torch": WEIGHTS}[BACKEND]


def check_backend_tools():
    """Fail before any job runs when the backend cannot work on this machine."""
    if dry_run():
        return
    if BACKEND == "onnxruntime" and importlib.util.find_spec("onnxruntime") is None:
        fail(
            "backend onnxruntime: the Python package onnxruntime is not installed "
            "(pip install onnxruntime, or onnxruntime-gpu), or choose backend: torch"
        )
    if BACKEND == "torch" and importlib.util.find_spec("torch") is None:
        fail("backend torch: PyTorch is not installed (pip install torch==2.13.0)")
    if BACKEND == "ascend":
        if config["preprocess"]["shape_policy"] != "ascend17":
            fail(
                "backend ascend needs preprocess.shape_policy: ascend17 (ATC compiles the "
                "17 fixed input shapes; 'reference' can produce other shapes)"
            )
        try:  # ATC compiles at most 100 input shapes
            shape_set(INPUT_SIZE, SCALES)
        except ValueError as exc:
            fail(f"backend ascend: {exc}")
        cann = config["ascend"]["cann_env"]
        if not Path(cann).is_file():
            fail(
                f"backend ascend: the CANN environment script {cann} (ascend.cann_env) does "
                "not exist; install the CANN toolkit or choose backend: onnxruntime"
            )
        check_ais_bench_paths()


def ais_bench_handed_paths():
    """The paths the rules hand to ais_bench (--model, --input, --output), as given to it."""
    paths = [backend_model()]
    for shard in SHARDS:
        for g in GEOS:
            paths += [
                f"{DS}/prep{g}/shard{shard}/prep_dir",
                f"{DS}/prep_flip{g}/shard{shard}/prep_flip_dir",
                f"{RUN}/infer{g}/shard{shard}",
            ]
    return paths + [BENCH_WORK]


def check_ais_bench_paths():
    """ais_bench refuses bad characters and symbolic links before it runs (its path rule):
    say so now, not after hours of preprocessing. Modes are fixed by the jobs themselves.
    """
    problems = []
    for path in ais_bench_handed_paths():
        problems += ais_bench_paths.string_violations(path)
        if Path(path).is_symlink():
            problems.append(f"{path}: is a symbolic link")
    if problems:
        fail(
            f"backend ascend: {len(problems)} path(s) handed to ais_bench break its rule: "
            f"{'; '.join(problems[:5])}. {ais_bench_paths.RULE}"
        )


BENCH_WORK = f"{RUN}/benchmark_model_work"
check_backend_tools()


# ---------------------------------------------------------------- scheduling

# What bounds the preprocessed shards in flight, whatever --cores is (issue 17): preprocess
# declares the inference threads, so every job of the per-shard chain takes the same share of
# the cores and at most jobs_at_once() of them run together; postprocess (priority 20) and
# infer (10) go before preprocess (0), so a new preprocess job starts only when no finished
# tensors wait for inference (nothing orders a shard's two passes: the raw outputs of one pass
# may wait for the other's, see higherhrnet.workflow.disk); and the jobs that get and build the model (weights, export,
# ATC, AOE: priority 30) take every core of a local run, so that no preprocessing runs ahead
# while there is nothing to infer with. Tensors held
# at once: at most jobs_at_once() shard-passes, plus one whose inference has just ended.


def total_cores(default):
    """--cores N of a local run; a cluster run (--jobs N) defines no total: ``default``.

    A job that a cluster runs (Snakemake's remote mode, e.g. inside a Slurm allocation) parses
    the workflow again with its own --cores: it must declare the threads its submission asked
    for (``default``), or the Slurm jobstep's srun asks for more CPUs than the job holds.
    """
    if not workflow.is_main_process:
        return default
    try:
        return int(workflow.cores or default)
    except WorkflowError:
        return default


def jobs_at_once(threads):
    """How many ``threads``-thread jobs run together: cores // threads in a local run, the
    --jobs N of a cluster run."""
    try:
        cores = workflow.cores
    except WorkflowError:
        cores = None
    if cores:
        return max(1, int(cores) // threads)
    nodes = workflow.nodes
    return int(nodes) if nodes and nodes < 10**6 else 1


# ---------------------------------------------------------------- disk

# Invocations that write no intermediates (and must work on a full disk: --unlock, clean-up)
NO_DISK_CHECK = {
    "--unlock",
    "--delete-temp-output",
    "--delete-all-output",
    "--report",
    "--lint",
    "--list-changes",
    "--lc",
    "--cleanup-metadata",
    "--cm",
    "--summary",
    "--detailed-summary",
    "--touch",
    "-t",
    "--dag",
    "--rulegraph",
    "--filegraph",
}


def check_disk():
    """Before any job: refuse a run whose intermediates will not fit (higherhrnet.workflow.disk), when
    the annotations are there to size the images (a first download is sized next time). Own
    images and videos have no annotations to size them by: not checked.
    """
    if (
        DATASET in OWN_DATASETS
        or dry_run()
        or not config["disk_check"]
        or not workflow.is_main_process
        or NO_DISK_CHECK & set(sys.argv)
        or not Path(ANNOTATIONS).is_file()
    ):
        return
    keep = config["keep_intermediates"]
    # temp tensors and raw outputs: the shards in flight at once (see SCHEDULING)
    at_once = jobs_at_once(config["infer"]["threads"]) + 1
    try:
        disk_check(
            ANNOTATIONS,
            NSHARDS,
            config["preprocess"]["shape_policy"],
            keep["preprocessed"],
            keep["raw_outputs"],
            at_once,
            None if BACKEND == "torch" else ONNX,
            DS,
            [f"{DS}/{d}{g}" for g in GEOS for d in ("prep", "prep_flip")]
            + [f"{RUN}/infer{g}" for g in GEOS],
            INPUT_SIZE,
            SCALES,
        )
    except HHRNetError as exc:
        fail(str(exc))


check_disk()


# ---------------------------------------------------------------- inference


def infer_resources():
    res = {"mem_mb": 6000, "runtime": 120}
    if BACKEND == "ascend":
        res["npu"] = 1
    return res


def infer_args():
    i = config["infer"]
    if BACKEND == "onnxruntime":
        return f"--threads {i['threads']} --batch-size {i['batch_size']} --providers {i['onnxruntime_provider']}"
    if BACKEND == "torch":
        kind, _, index = i["torch_device"].partition(":")
        return (
            f"--threads {i['threads']} --providers {kind} --variant {VARIANT.name}"
            + (f" --device {index}" if index else "")
        )
    a = config["ascend"]
    return (
        f"--device {a['device']} --cann-env={shlex.quote(a['cann_env'])} "
        f"{SHAPE_ARGS}"
    )


# which input shapes the Ascend model is compiled for (and the benchmark measures)
SHAPE_ARGS = f"--variant {VARIANT.name} --scales {SCALES_ARG}"


def benchmark_args():
    """The engine options of infer_args(), without batching (benchmarks run batch 1), and
    the variant and scales whose shape set is measured when benchmark_model.shapes is empty
    (ONNX Runtime and torch measure given shapes of any size)."""
    i = config["infer"]
    default_shapes = not config["benchmark_model"]["shapes"]
    if BACKEND == "onnxruntime":
        engine = f"--threads {i['threads']} --providers {i['onnxruntime_provider']}"
        return f"{engine} {SHAPE_ARGS}" if default_shapes else engine
    if BACKEND == "torch":  # infer_args() names the variant
        return (
            f"{infer_args()} --scales {SCALES_ARG}" if default_shapes else infer_args()
        )
    return infer_args()


# ---------------------------------------------------------------- postprocess

INFER_OUT = f"{RUN}/infer{{geo}}/shard{{shard}}"


def scale_inputs(pattern, old=False):
    """Input function: ``pattern`` for every scale of the test; ancient() when ``old``."""

    def inputs(wildcards):
        paths = per_scale(pattern, wildcards)
        return [ancient(p) for p in paths] if old else paths

    return inputs


def scale_flags(wildcards, input):
    """One --dump-dir, --dump-dir-flip and --manifest per scale (one scale: the guide's
    flags alone)."""
    flags = [] if SCALES == [1.0] else ["--scales", SCALES_ARG]
    for d, f, m in zip(input.outputs, input.outputs_flip, input.manifest):
        flags += ["--dump-dir", d, "--dump-dir-flip", f, "--manifest", m]
    return shlex.join(flags)


# ---------------------------------------------------------------- report


def stage_benchmarks(wildcards=None):
    """The benchmark files of the run's stages, as the rules declare them: an input function,
    so that it runs once every rule file is included."""
    names = ["preprocess", "preprocess_flip", "infer", "infer_flip", "postprocess"]
    if DATASET == "images":
        names = ["list_images", *names, "draw_predictions"]
    elif DATASET == "video":
        names = ["extract_frames", *names, "annotate_video"]
    else:
        names.append("evaluate")
    if BACKEND != "torch":
        names.append("export_onnx")
    if BACKEND == "ascend":
        names.append("compile_om" if AOE == "off" else "tune_om")
    files = []
    for name in names:
        pattern = str(getattr(rules, name).benchmark)
        if "{geo}" in pattern:
            files += expand(pattern, shard=SHARDS, geo=GEOS)
        else:
            files += shard_paths(pattern) if "{shard}" in pattern else [pattern]
    return files


# ---------------------------------------------------------------- targets


def shard_paths(pattern):
    return expand(pattern, shard=SHARDS)


def final_targets():
    if DATASET in OWN_DATASETS:
        return own_targets()
    targets = [
        f"{RUN}/metrics.json",
        f"{RUN}/metrics.csv",
        f"{RUN}/metrics.html",
        f"{RUN}/stage_times.png",
        f"{RUN}/drawings",
    ]
    if config["benchmark_model"]["enabled"]:  # the COCO report's performance table
        targets.append(f"{RUN}/benchmark_model.html")
    return targets


OWN_INDEX = f"{RUN}/{'frames' if DATASET == 'video' else 'images'}.csv"
# drawings of own images / the first video frames ({RUN}/drawings is the COCO datasets')
OWN_DRAWINGS = f"{RUN}/skeletons"


def own_targets():
    """Predictions, drawings (images) or annotated video, and the report without metrics."""
    own = [
        f"{RUN}/predictions.json",
        f"{RUN}/keypoints.csv",
        OWN_INDEX,
        f"{RUN}/unreadable.txt",
        OWN_DRAWINGS,
        f"{RUN}/summary.html",
        f"{RUN}/stage_times.png",
    ]
    return own + ([f"{RUN}/annotated.mp4"] if DATASET == "video" else [])
