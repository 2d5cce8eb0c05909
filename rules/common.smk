# The workflow's setup: load and validate the config, the one preflight() before any job, the
# globals and wildcard constraints. The logic is higherhrnet.workflow (plain, unit-tested
# functions of the config); every artifact path is named once there (P: workflow.paths).

import shlex
import sys
from pathlib import Path

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir, "src")))
from higherhrnet.data import download
from higherhrnet.errors import WorkflowError as HHRNetError
from higherhrnet.workflow import args, provenance, scheduling, targets
from higherhrnet.workflow.code_digest import rule_digest
from higherhrnet.workflow.config import prepare, settings
from higherhrnet.workflow.paths import OUTPUT_DIRNAME, PREP_DIRNAME, artifact_paths
from higherhrnet.workflow.preflight import is_dry_run, preflight

prepare(
    config,
    yaml.safe_load(Path(workflow.basedir, "schemas", "config.schema.yaml").read_text()),
)
validate(config, "../schemas/config.schema.yaml")


def workflow_cores():
    """--cores N of a local run, None for a cluster run (--jobs N) or when unset."""
    try:
        return workflow.cores
    except WorkflowError:
        return None


try:
    S = settings(config)
    P = artifact_paths(config, S)
    INPUTS = preflight(
        config,
        S,
        P,
        dry_run=is_dry_run(workflow.dryrun, sys.argv),
        main_process=workflow.is_main_process,
        argv=sys.argv,
        at_once=scheduling.jobs_at_once(
            workflow_cores(), workflow.nodes, config["infer"]["threads"]
        )
        + 1,
    )
    targets.check_report_run(config, S, P, sys.argv)
except HHRNetError as exc:
    raise WorkflowError(str(exc)) from None

S = INPUTS.settings  # shards capped to the images (preflight.plan_shards)
DATASET = S.dataset
BACKEND = S.backend.name
NSHARDS = S.shards  # --num-shards: which shard an image falls in
SHARD_IDS = S.run_shards  # the shards that hold images and get jobs
VARIANT = S.variant
GEOS = S.geos
WEIGHTS = INPUTS.weights
MODEL = P.model(S.backend.loads, WEIGHTS)
SHAPE_ARGS = args.shape_args(S)
# the TensorRT engines' manifest when the run loads them (build_trt_engines), else no input
ENGINES = [P.trt_engines] if S.trt_tag else []
ENGINES_FLAG = args.engines_flag(S, P.trt_engines)
# the inference jobs' conda env: the backend's, or envs/gpu.yaml when the config runs on a GPU
INFER_ENV = f"../envs/{args.conda_env(config, S)}.yaml"
# Stage CLIs live beside this workflow; shell commands reach them through $HHRNET_SCRIPTS so
# that neither the rules' params nor their provenance depend on where the clone lives.
shell.prefix(
    "set -euo pipefail; export HHRNET_SCRIPTS="
    f"{shlex.quote(str(Path(workflow.basedir, 'scripts')))}; "
    # the devices the infer/benchmark jobs take one of (workflow.args.devices_arg); in a
    # cluster job the scheduler's allocation instead (inference.devices)
    f"export HHRNET_DEVICES={shlex.quote(args.devices_arg(S))}; "
    + ("" if workflow.is_main_process else "export HHRNET_DEVICES_FROM_ALLOCATION=1; ")
)
# a local run: at most as many device jobs at once as there are devices (scheduling)
for name, count in scheduling.device_resources(
    S.device_kind,
    len(S.devices),
    workflow.global_resources,
    workflow_cores(),
    workflow.is_main_process,
).items():
    workflow.register_resource(name, count)


wildcard_constraints:
    shard=r"\d+",
    # a scale's path tag (Settings.scale_tag): empty for the one-scale test of W32-512
    geo=r"(_\d+_s[0-9.]+_min[0-9.]+)?",


def per_shard(pattern):
    """Input function: ``pattern`` (a path with {shard}) of the job's shard."""
    return lambda wildcards: pattern.format(shard=wildcards.shard)


if S.own:
    # own images / video: the per-shard listing takes the annotation file's place; ancient()
    # on the folder: adding an image changes its mtime, but only the listing of the shard it
    # falls in must change (its input set does, see list_images)
    ANNOTATIONS = per_shard(INPUTS.annotations)
    IMAGES = (
        per_shard(INPUTS.images)
        if DATASET == "video"
        else (lambda wildcards, folder=ancient(INPUTS.images): folder)
    )
else:
    ANNOTATIONS, IMAGES = INPUTS.annotations, INPUTS.images


def coco_zip(file):
    """A COCO zip's download path: temp() unless it is there when the run starts (fetched by
    hand, as the offline error says: then it is the user's, checked and never deleted).
    """
    path = f"{config['dataset']['download_dir']}/{file.file_name}"
    return path if Path(path).exists() else temp(path)


def scale_inputs(pattern, old=False):
    """Input function: ``pattern`` for every scale of the test, in visiting order; ancient()
    when ``old``."""
    return lambda wildcards: [
        ancient(p) if old else p
        for p in targets.per_scale(pattern, GEOS, wildcards.shard)
    ]


def maybe_temp(path, kind):
    """Big per-image intermediates are deleted once consumed unless keep_intermediates.<kind>
    (preprocessed or raw_outputs)."""
    return path if config["keep_intermediates"][kind] else temp(path)


def total_cores(default):
    """The jobs that get and build the model take every core of a local run (scheduling)."""
    return scheduling.total_cores(workflow_cores(), workflow.is_main_process, default)


RULE_FILES = tuple(sorted(Path(workflow.basedir, "rules").glob("*.smk"))) + (
    Path(workflow.basedir, "Snakefile"),
)


def with_code(rule_name, command):
    """The rule's shell command + the digest of the code it runs (workflow.code_digest): the
    code trigger compares shell text, so an edit of its script or library re-runs it."""
    digest = rule_digest(Path(workflow.basedir), rule_name, RULE_FILES)
    return f"{command}  # code {digest}"


def made_from(stage):
    """A params: entry: the digest of the config values and code the stage's artifacts are
    made from, its own and every upstream stage's (workflow.provenance). A change upstream
    re-runs the job even where an intermediate between went missing (a failed or killed
    job), which rebuilds that intermediate on the way."""
    return provenance.made_from(
        config,
        S,
        stage,
        lambda rule: rule_digest(Path(workflow.basedir), rule, RULE_FILES),
    )


def stage_benchmarks(wildcards=None):
    """The benchmark files of the run's stages, as the rules declare them: an input function,
    so that it runs once every rule file is included."""
    return [
        path
        for name in targets.stage_rules(S, config["benchmark_model"]["enabled"])
        for path in targets.expand_benchmark(
            str(getattr(rules, name).benchmark), SHARD_IDS, GEOS
        )
    ]
