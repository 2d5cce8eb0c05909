"""profiles/slurm on a real one-node Slurm cluster (tests/clusters/start_slurm.sh).

Slurm's own record is the witness: every job Snakemake submits must appear in
`squeue --states=all` (MinJobAge=300 keeps finished jobs there) under the run's
job name with its rule as comment, and each job's output carries the
SLURM_JOB_ID it ran under.  Skipped only when Debian's slurm-wlm/munge are not
installed (tests/clusters/install_slurm.sh installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.workflow import command as workflow_command
from support.workflow import local_rules, planned_jobs

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = ROOT / "tests" / "clusters"
PROFILE = ROOT / "profiles" / "slurm"
SBIN = os.pathsep.join(["/usr/sbin", "/sbin"])
NEEDED = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")

# Test-cluster settings passed on the command line (not in the profile): no
# slurmdbd here, so `sacct` cannot answer and squeue is the status source; poll
# after 1 s instead of 40 s; no account to guess.
CLUSTER_ARGS = (
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "1",
    "--slurm-no-account",
)
SUBMITTED = re.compile(
    r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+?/rule_(\w+)/\S*?\d+\.log)\)"
)


@dataclass
class Cluster:
    statedir: Path
    env: dict

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(args, env=self.env, text=True, capture_output=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def jobs(self, run_id: str) -> dict[str, tuple[str, str, str]]:
        """Slurm job id -> (comment, state, TRES per node) for one snakemake run."""
        out = self.run("squeue", "--states=all", "--noheader", "--name", run_id,
                       "--format=%i|%k|%T|%b")
        return {i: (k, t, b) for i, k, t, b in (line.split("|") for line in out.split())}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    search = os.pathsep.join([os.environ.get("PATH", ""), SBIN])
    missing = [t for t in NEEDED if shutil.which(t, path=search) is None]
    if missing:
        pytest.skip(f"Slurm/munge not installed ({', '.join(missing)} missing); "
                    "run tests/clusters/install_slurm.sh as root")
    if os.geteuid() != 0:
        pytest.skip("the private test cluster runs its daemons as root (SlurmUser=root)")
    statedir = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(["bash", str(CLUSTER_DIR / "start_slurm.sh"), str(statedir)],
                           text=True, capture_output=True, timeout=120)
    try:
        assert start.returncode == 0, f"start_slurm.sh failed:\n{start.stdout}\n{start.stderr}"
        env = dict(os.environ)
        for var in list(env):  # nothing from an outer Slurm job or site setup leaks in
            if var.startswith(("SLURM_", "SBATCH_", "SRUN_", "SNAKEMAKE_PROFILE")):
                del env[var]
        env["SLURM_CONF"] = start.stdout.strip()
        env["PATH"] = os.pathsep.join([str(statedir / "bin"), str(Path(sys.executable).parent),
                                       env.get("PATH", ""), SBIN])
        yield Cluster(statedir, env)
    finally:
        subprocess.run(["bash", str(CLUSTER_DIR / "stop_slurm.sh"), str(statedir)], timeout=120)


def snakemake_on_cluster(cluster: Cluster, workdir: Path, *args: str,
                         cmd: list[str] | None = None, timeout: int = 900):
    cmd = cmd or [sys.executable, "-m", "snakemake"]
    cmd = [*cmd, "--profile", str(PROFILE), *CLUSTER_ARGS, *args]
    proc = subprocess.run(cmd, cwd=workdir, env=cluster.env, text=True, capture_output=True,
                          timeout=timeout)
    return proc, proc.stdout + proc.stderr


def submissions(log: str) -> list[tuple[str, str, str]]:
    """(slurm job id, slurm log path, rule) for every sbatch snakemake made."""
    return SUBMITTED.findall(log)


def run_id(log: str) -> str:
    return re.search(r"SLURM run ID: (\S+)", log).group(1)


def test_one_node_cluster_is_up_with_one_npu(cluster):
    assert cluster.run("sinfo", "--noheader", "--format=%t|%G").split() == ["idle|npu:1"]


# --------------------------------------------------------------- throwaway workflow

TOY_SNAKEFILE = """
rule all:
    input:
        "post.txt",
        "evaluate.txt",


rule export_onnx:
    output:
        "model.om",
    shell:
        "echo job=$SLURM_JOB_ID > {output}"


rule preprocess:
    output:
        "prep.txt",
    shell:
        "echo job=$SLURM_JOB_ID > {output}"


rule infer:
    input:
        model="model.om",
        tensors="prep.txt",
    output:
        "infer.txt",
    resources:
        npu=1,
    shell:
        "(echo job=$SLURM_JOB_ID; scontrol -d show job $SLURM_JOB_ID) > {output}"


rule postprocess:
    input:
        "infer.txt",
    output:
        "post.txt",
    shell:
        "echo job=$SLURM_JOB_ID > {output}"


rule evaluate:
    input:
        "prep.txt",
    output:
        "evaluate.txt",
    shell:
        "if [ -e fail.flag ]; then echo 'evaluate: failing on purpose' >&2; exit 3; fi; "
        "echo job=$SLURM_JOB_ID > {output}"
"""


@pytest.fixture(scope="module")
def toy(cluster, tmp_path_factory):
    """A first run in which `evaluate` fails on the cluster, then a re-run without the fault."""
    workdir = tmp_path_factory.mktemp("toy")
    (workdir / "Snakefile").write_text(textwrap.dedent(TOY_SNAKEFILE))
    (workdir / "fail.flag").write_text("")
    first, first_log = snakemake_on_cluster(cluster, workdir, "--retries", "0")
    first_jobs = cluster.jobs(run_id(first_log))
    first_outputs = sorted(p.name for p in [*workdir.glob("*.txt"), *workdir.glob("*.om")])
    (workdir / "fail.flag").unlink()
    second, second_log = snakemake_on_cluster(cluster, workdir, "--retries", "0")
    return dict(workdir=workdir, first=first, first_log=first_log, first_jobs=first_jobs,
                first_outputs=first_outputs, second=second, second_log=second_log,
                second_jobs=cluster.jobs(run_id(second_log)))


def job_id_in(path: Path) -> str:
    return re.match(r"job=(\d+)\n", path.read_text()).group(1)


def test_every_toy_job_went_through_sbatch(toy):
    subs = submissions(toy["first_log"])
    by_rule = {rule: jobid for jobid, _, rule in subs}
    assert sorted(by_rule) == ["evaluate", "export_onnx", "infer", "postprocess", "preprocess"]
    assert len(subs) == 5
    # Slurm's record of this run: exactly these jobs, with the rule as comment
    assert {j: comment for j, (comment, _, _) in toy["first_jobs"].items()} == {
        jobid: f"rule_{rule}" for rule, jobid in by_rule.items()}
    states = {comment: state for comment, state, _ in toy["first_jobs"].values()}
    assert states == {"rule_export_onnx": "COMPLETED", "rule_preprocess": "COMPLETED",
                      "rule_infer": "COMPLETED", "rule_postprocess": "COMPLETED",
                      "rule_evaluate": "FAILED"}
    # ... and each output was written inside the Slurm job snakemake reported
    for rule, output in [("export_onnx", "model.om"), ("preprocess", "prep.txt"),
                         ("infer", "infer.txt"), ("postprocess", "post.txt")]:
        assert job_id_in(toy["workdir"] / output) == by_rule[rule], rule


def test_npu_rule_got_the_gres_from_the_profile(toy):
    tres = {comment: b for comment, _, b in toy["first_jobs"].values()}
    assert tres.pop("rule_infer") == "gres:npu:1"
    assert set(tres.values()) == {"N/A"}  # nobody else asked for the NPU
    seen_inside = (toy["workdir"] / "infer.txt").read_text()
    assert "JOB_GRES=npu:1" in seen_inside  # allocated, not merely requested
    assert re.search(r"Nodes=testnode .*GRES=npu\(CNT:1\)", seen_inside)


def test_failed_cluster_job_fails_the_workflow_and_names_its_log(toy):
    log = toy["first_log"]
    assert toy["first"].returncode != 0
    (jobid, slurm_log, _), = [s for s in submissions(log) if s[2] == "evaluate"]
    assert f"SLURM-job '{jobid}' failed, SLURM status is: 'FAILED'" in log
    error = log[log.index("Error in rule evaluate"):]
    assert slurm_log in error.split("Shutting down")[0]
    assert "evaluate: failing on purpose" in Path(slurm_log).read_text()
    # keep-going: the other branch finished; evaluate left nothing behind
    assert toy["first_outputs"] == ["infer.txt", "model.om", "post.txt", "prep.txt"]


def test_rerun_after_failure_submits_only_what_is_missing(toy):
    assert toy["second"].returncode == 0, toy["second_log"][-3000:]
    subs = submissions(toy["second_log"])
    assert [rule for _, _, rule in subs] == ["evaluate"]
    assert [(c, s) for c, s, _ in toy["second_jobs"].values()] == [("rule_evaluate", "COMPLETED")]
    assert job_id_in(toy["workdir"] / "evaluate.txt") == subs[0][0]


# --------------------------------------------------------------- the real workflow

# the rules of a tests/configs/synthetic.yaml run that become Slurm jobs, and those that
# Snakemake runs itself (localrules)
HEAVY_RULES = {"make_synthetic_weights", "export_onnx", "preprocess", "preprocess_flip",
               "infer", "infer_flip", "postprocess", "evaluate"}
SMALL_RULES = {"make_synthetic_dataset", "gather_results", "metrics_table", "plot_stage_times",
               "draw_skeletons", "all"}


@pytest.mark.slow
@pytest.mark.workflow
def test_synthetic_workflow_on_slurm_matches_local_run(cluster, tmp_path):
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    cmd = workflow_command(on_slurm)
    planned = subprocess.run([*cmd, "--dry-run"], env=cluster.env, text=True,
                             capture_output=True, timeout=300)
    assert planned.returncode == 0, planned.stderr[-3000:]
    planned = planned_jobs(planned.stdout + planned.stderr)

    proc, log = snakemake_on_cluster(cluster, ROOT, cmd=cmd)
    assert proc.returncode == 0, log[-6000:]
    submitted: dict[str, int] = {}
    for _, _, rule in submissions(log):
        submitted[rule] = submitted.get(rule, 0) + 1
    # localrules run on the head node: a dry run does not tell them apart, the run's log does
    local_only = local_rules(log)
    assert local_only == SMALL_RULES and set(submitted) == HEAVY_RULES, (local_only, submitted)
    assert submitted == {rule: n for rule, n in planned.items() if rule not in local_only}
    slurm_jobs = cluster.jobs(run_id(log))
    assert len(slurm_jobs) == sum(submitted.values())
    assert {state for _, state, _ in slurm_jobs.values()} == {"COMPLETED"}

    proc = subprocess.run([*workflow_command(local), "--cores", "2"], env=cluster.env,
                          text=True, capture_output=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    results = "results/synthetic/onnxruntime/keypoints_results.json"
    assert (on_slurm / results).read_bytes() == (local / results).read_bytes()
    assert (on_slurm / results).stat().st_size > 2


@pytest.mark.workflow
def test_gpu_config_submits_its_inference_jobs_with_a_gpu(cluster, tmp_path):
    """infer.torch_device cuda: the inference jobs (infer, infer_flip; benchmark_model has the
    same resources but waits for the metrics) are submitted with the plugin's --gpus=1. The
    test cluster has no GPU GRES, so sbatch refuses it and the plugin's error names the whole
    sbatch call: the request, not a granted GPU, is checked."""
    target = "results/synthetic/torch/benchmark_model.json"
    cmd = workflow_command(tmp_path, config=["backend=torch", "infer={torch_device: cuda}",
                                             "benchmark_model={enabled: true}"])
    proc, log = snakemake_on_cluster(cluster, ROOT, target, cmd=cmd, timeout=600)
    assert proc.returncode != 0, log[-3000:]
    calls = re.findall(r"sbatch call:\s*(.*)", log)
    gpu_rules = ("rule_infer", "rule_infer_flip", "rule_benchmark_model")
    gpu_calls = [c for c in calls if "--gpus=1" in c]
    assert gpu_calls and all(any(r in c for r in gpu_rules) for c in gpu_calls), log[-6000:]
    # the rules that run on the CPU asked for none
    assert not [c for c in calls if "--gpus" in c and not any(r in c for r in gpu_rules)]


@pytest.mark.slow
@pytest.mark.workflow
def test_one_photo_with_50_shards_on_slurm(cluster, tmp_path, coco_sample):
    """Shards capped to the images (issue 27) in every process: each Slurm job parses the
    workflow again on the node, and draw_predictions there must see the one listing that the
    head node planned (50 listings would be missing inputs)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "one.jpg").write_bytes(min((coco_sample / "images").glob("*.jpg")).read_bytes())
    work = tmp_path / "work"
    cmd = workflow_command(work, config=[f"dataset={{name: images, images: '{photos}'}}",
                                         "shards=50"])
    proc, log = snakemake_on_cluster(cluster, ROOT, cmd=cmd)
    assert proc.returncode == 0, log[-6000:]
    assert log.count("shards: 50 for 1 image(s): 1 shard(s) get jobs") == 1
    submitted: dict[str, int] = {}
    for _, _, rule in submissions(log):
        submitted[rule] = submitted.get(rule, 0) + 1
    per_shard = ("preprocess", "preprocess_flip", "infer", "infer_flip", "postprocess")
    assert {r: submitted.get(r) for r in per_shard} == dict.fromkeys(per_shard, 1), submitted
    assert submitted.get("draw_predictions") == 1
    run = work / "results/images/onnxruntime"
    assert (run / "skeletons/one.jpg").is_file()
    assert "one.jpg" in (run / "images.csv").read_text()
