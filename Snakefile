# HigherHRNet-W32 (input 512) inference on COCO val2017 as one resumable workflow:
# data -> preprocess (+ flip) -> export ONNX (-> ATC) -> two inference runs -> postprocess
# -> gather -> COCO evaluation -> report. See README.md for the rules and config keys.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/model.smk"
include: "rules/preprocess.smk"
include: "rules/infer.smk"
include: "rules/postprocess.smk"
include: "rules/benchmark.smk"
include: "rules/report.smk"
include: "rules/predictions.smk"


# On a cluster, rules that only move a little data run in Snakemake's own process instead of
# waiting in the queue for a job of their own: each rule file names its own (localrules:).
localrules:
    all,


rule all:
    default_target: True
    input:
        targets.final_targets(config, S, P),
