# The workflow's setup: load and validate the config, run the one preflight() before any job,
# define the globals and wildcard constraints the rules use. The logic lives in
# higherhrnet.workflow as plain, unit-tested functions of the config; artifact paths are named
# once there (P, higherhrnet.workflow.paths).

import shlex
import sys
from pathlib import Path

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir, "src")))
from higherhrnet.data.download import (
    COCO_ANNOTATIONS_TRAINVAL2017,
    COCO_VAL2017_IMAGES,
    coco_layout,
)
from higherhrnet.errors import WorkflowError as HHRNetError
from higherhrnet.workflow import args, targets
from higherhrnet.workflow.code_digest import rule_digest
from higherhrnet.workflow.config import prepare, settings
from higherhrnet.workflow.paths import OUTPUT_DIRNAME, PREP_DIRNAME, artifact_paths
from higherhrnet.workflow.preflight import is_dry_run, preflight
from higherhrnet.workflow import scheduling

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
except HHRNetError as exc:
    raise WorkflowError(str(exc)) from None

DATASET = S.dataset
BACKEND = S.backend.name
NSHARDS = S.shards
SHARDS = list(range(NSHARDS))
VARIANT = S.variant
GEOS = S.geos
WEIGHTS = INPUTS.weights
MODEL = P.model(S.backend.loads, WEIGHTS)
SHAPE_ARGS = args.shape_args(S)
# Stage CLIs live beside this workflow; shell commands reach them through $HHRNET_SCRIPTS so
# that neither the rules' params nor their provenance depend on where the clone lives.
shell.prefix(
    "set -euo pipefail; export HHRNET_SCRIPTS="
    f"{shlex.quote(str(Path(workflow.basedir, 'scripts')))}; "
)


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


def maybe_temp(path, kind):
    """Big per-image intermediates are deleted once consumed unless keep_intermediates.<kind>
    (preprocessed or raw_outputs)."""
    return path if config["keep_intermediates"][kind] else temp(path)


def total_cores(default):
    """The jobs that get and build the model take every core of a local run (scheduling)."""
    return scheduling.total_cores(workflow_cores(), workflow.is_main_process, default)


# ---------------------------------------------------------------- code-aware re-runs

RULE_FILES = tuple(sorted(Path(workflow.basedir, "rules").glob("*.smk"))) + (
    Path(workflow.basedir, "Snakefile"),
)


def with_code(rule_name, command):
    """The rule's shell command with the digest of its code as a trailing comment: Snakemake's
    code trigger compares a rule's shell text, so an edit of the stage's script or of a library
    module it imports re-runs the rule and what follows (`snakemake --list-changes code` names
    its outputs), while a fresh clone or a `touch` re-runs nothing (workflow.code_digest).
    """
    digest = rule_digest(Path(workflow.basedir), rule_name, RULE_FILES)
    return f"{command}  # code {digest}"


def stage_benchmarks(wildcards=None):
    """The benchmark files of the run's stages, as the rules declare them: an input function,
    so that it runs once every rule file is included."""
    return [
        path
        for name in targets.stage_rules(S)
        for path in targets.expand_benchmark(
            str(getattr(rules, name).benchmark), NSHARDS, GEOS
        )
    ]
