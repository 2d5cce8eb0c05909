"""profiles/donau against the stand-in Donau of tests/fakes/donau (no Donau cluster exists here).

The stand-ins print exactly what ../shared/ASCEND_TOOLS.md ("Donau") documents and run the job
scripts in the background, so the whole synthetic workflow goes through dsub/djob/dkill as on a
cluster. The tests named test_item<N>_* are the four breakages of issue 12; each failed against
the profile before it (README.md of the profile says what only a real cluster can show).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.workflow import BENCHMARK_MODEL_ON, command, local_rules, planned_jobs

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "profiles" / "donau"
FAKES = ROOT / "tests" / "fakes" / "donau"
FIRST_ID = 1645534805  # the id in dsub's documented reply; the stand-in counts from it

sys.path.insert(0, str(PROFILE))
import donau_jobs  # noqa: E402  (the profile's module; its scripts import it the same way)


class Donau:
    """The stand-in cluster of one test: its state folder and the environment that reaches it."""

    def __init__(self, tmp_path: Path):
        self.state = tmp_path / "donau"
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HHRNET_DONAU", "FAKE_DONAU", "SNAKEMAKE_PROFILE"))}
        self.env.update(FAKE_DONAU=str(self.state), HHRNET_DONAU_STATUS_TTL="0")
        self.env["PATH"] = os.pathsep.join([str(FAKES / "bin"), str(Path(sys.executable).parent),
                                            self.env["PATH"]])

    def script(self, name: str, args: list[str], **extra) -> subprocess.CompletedProcess:
        return subprocess.run([str(PROFILE / name), *args], cwd=self.work, text=True,
                              env=dict(self.env, **extra), capture_output=True, timeout=120)

    def jobscript(self, body: str, rule: str = "infer", jobid: int = 1, threads: int = 2,
                  **resources) -> Path:
        props = {"rule": rule, "jobid": jobid, "threads": threads, "resources": resources}
        self.scripts = getattr(self, "scripts", 0) + 1
        path = self.work / f"snakejob.{rule}.{jobid}.{self.scripts}.sh"
        path.write_text(f"#!/bin/sh\n# properties = {json.dumps(props)}\n{body}\n")
        return path

    def submit(self, body: str = "true", **kw) -> str:
        proc = self.script("donau-submit.py", [str(self.jobscript(body, **kw))])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout.strip()

    def dsub(self, body: str = "true", **kw) -> str:
        """A job submitted with the stand-in dsub itself, not through the profile (the status and
        cancel tests do not depend on donau-submit.py)."""
        script = self.jobscript(body, **kw)
        script.chmod(0o755)
        log = self.work / f"{script.name}.log"
        proc = subprocess.run(["dsub", "-n", f"smk_{kw.get('rule', 'infer')}", "-oo", str(log),
                               "-eo", f"{log}.err", "-s", str(script)], cwd=self.work,
                              env=self.env, text=True, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return self.jobs()[-1]["id"]

    def job(self, job_id: str) -> dict:
        return json.loads((self.state / "jobs" / f"{job_id}.json").read_text())

    def jobs(self) -> list[dict]:
        return sorted((json.loads(p.read_text()) for p in (self.state / "jobs").glob("*.json")),
                      key=lambda j: int(j["id"]))

    def wait_state(self, job_id: str, *states: str, timeout: float = 60) -> dict:
        deadline = time.time() + timeout
        while (job := self.job(job_id))["state"] not in states:
            assert time.time() < deadline, f"job {job_id} still {job['state']}, not {states}"
            time.sleep(0.1)
        return job

    def calls(self, name: str) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [c[1:] for c in map(json.loads, lines) if c[0] == name]

    def stop_all(self) -> None:
        """Nothing of a test's jobs keeps running: the runner (so it starts nothing more), then
        the job's process group."""
        for job in self.jobs() if (self.state / "jobs").exists() else []:
            for key in ("runner_pid", "pgid"):
                job = self.job(job["id"])
                if job.get(key):
                    try:
                        os.killpg(job[key], signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass


@pytest.fixture
def donau(tmp_path):
    cluster = Donau(tmp_path)
    yield cluster
    cluster.stop_all()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def profile_value(key: str) -> str:
    m = re.search(rf"^{re.escape(key)}:\s*(\S+)", (PROFILE / "config.yaml").read_text(), re.M)
    return m.group(1)


# ------------------------------------------------------------------------- 1: dsub's reply

def test_item1_submit_reads_the_job_id_from_dsubs_table(donau):
    proc = donau.script("donau-submit.py", [str(donau.jobscript("true"))])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"{FIRST_ID}\n"  # cluster-generic takes the first line as the id
    assert donau.wait_state(str(FIRST_ID), "SUCCEEDED")


@pytest.mark.parametrize("text, job_id", [
    ("JOBID      MESSAGE\n1645534805 Submit job successfully.\n", "1645534805"),  # ASCEND_TOOLS
    ("JOBID        MESSAGE\n8678302      Submit job successfully...\n", "8678302"),  # O's comment
    ("Job <123> is submitted to queue <normal>.\n", "123"),  # the older <id> form
    ("JOBID      MESSAGE\nERROR      token expired, run dlogin\n", None),
    ("please run dlogin first\n", None),
])
def test_parse_submit_output(text, job_id):
    assert donau_jobs.parse_submit_output(text) == job_id


def test_unreadable_or_failed_dsub_fails_with_its_whole_output(donau, tmp_path):
    bindir = tmp_path / "otherbin"
    bindir.mkdir()
    (bindir / "dsub").write_text("#!/bin/sh\necho 'Your token has expired.'\necho 'run dlogin' >&2\n"
                                 "exit ${DSUB_RC:-0}\n")
    (bindir / "dsub").chmod(0o755)
    path = os.pathsep.join([str(bindir), donau.env["PATH"]])
    for rc, why in [("0", "printed no job id"), ("5", "failed (exit 5)")]:
        proc = donau.script("donau-submit.py", [str(donau.jobscript("true"))], PATH=path, DSUB_RC=rc)
        assert proc.returncode == 1
        # stdout: cluster-generic puts it into Snakemake's error message for the job
        assert why in proc.stdout and "Your token has expired." in proc.stdout, proc.stdout
        assert "run dlogin" in proc.stdout and "-s " in proc.stdout


# ------------------------------------------------------------------------- 2: djob's forms

def test_item2_status_reads_indexed_ids_and_key_value_lines(donau):
    running = donau.dsub("sleep 300")
    done = donau.dsub("true")
    failed = donau.dsub("exit 3", rule="evaluate")
    donau.wait_state(running, "RUNNING")
    donau.wait_state(done, "SUCCEEDED")
    donau.wait_state(failed, "FAILED")
    want = {running: "running", done: "success", failed: "failed"}
    # listings as `<id>.0 STATE` rows; no grace: a job the status command cannot find is failed
    for extra in [dict(FAKE_DONAU_TASK_IDS="1"),
                  dict(FAKE_DONAU_TASK_IDS="1", FAKE_DONAU_NO_BATCH="1")]:  # -> djob -ll per id
        answers = {j: donau.script("donau-status.py", [j], HHRNET_DONAU_UNKNOWN_GRACE="0", **extra)
                   for j in want}
        assert {j: p.stdout for j, p in answers.items()} == {j: v + "\n" for j, v in want.items()}
        records = donau.work / ".snakemake/donau_logs/jobs"
        for record in (records / "done").iterdir():  # forget the answers: djob is asked again
            record.replace(records / record.name)
    assert ["-ll", running] in donau.calls("djob")
    assert "jobExitCode 3" in answers[failed].stderr  # from the -ll key/value lines


@pytest.mark.parametrize("text, ids, rows", [
    ("1645534805.0  RUNNING\n1645534806  SUCCEEDED\n", {"1645534805", "1645534806"},
     {"1645534805": ["RUNNING"], "1645534806": ["SUCCEEDED"]}),
    ("1645534805.0  SUCCEEDED\n1645534805.1  FAILED\n99 RUNNING\n", {"1645534805"},
     {"1645534805": ["SUCCEEDED", "FAILED"]}),
])
def test_parse_state_rows(text, ids, rows):
    assert donau_jobs.parse_state_rows(text, ids) == rows


def test_key_value_lines_and_verdicts():
    text = "jobId 7\nstate SUCCEEDED\njobExitCode 0\nsystemExitCode 0\njobId 8.0\nSTATE: FAILED\n"
    records = donau_jobs.parse_key_values(text)
    assert records == {"7": {"jobid": "7", "state": "SUCCEEDED", "jobexitcode": "0",
                             "systemexitcode": "0"}, "8": {"jobid": "8.0", "state": "FAILED"}}
    assert donau_jobs.key_value_verdict(records["7"])[0] == "success"
    assert donau_jobs.key_value_verdict(records["8"])[0] == "failed"
    nonzero = dict(records["7"], systemexitcode="1")
    assert donau_jobs.key_value_verdict(nonzero)[0] == "failed"  # never a success then
    assert donau_jobs.combine(["SUCCEEDED", "RUNNING"])[0] == "running"
    assert donau_jobs.combine(["SUCCEEDED", "FAILED"])[0] == "failed"
    assert donau_jobs.combine(["SUSPENDED"])[0] == "running"  # unknown while listed


def test_unknown_state_runs_while_listed_and_can_be_named(donau):
    job_id = donau.submit("sleep 300")
    job = donau.wait_state(job_id, "RUNNING")
    (donau.state / "jobs" / f"{job_id}.json").write_text(json.dumps(dict(job, state="SUSPENDED")))
    proc = donau.script("donau-status.py", [job_id])
    assert proc.stdout == "running\n" and "SUSPENDED" in proc.stderr, proc.stderr
    named = donau.script("donau-status.py", [job_id], HHRNET_DONAU_STATES="SUSPENDED:failed")
    assert named.stdout == "failed\n"


def test_unlisted_job_is_never_a_success_and_is_cancelled_before_failing(donau):
    job_id = donau.submit("true")
    donau.wait_state(job_id, "SUCCEEDED")
    lag = dict(FAKE_DONAU_HISTORY_LAG_S="3600")  # finished, not yet in the -D history
    assert donau.script("donau-status.py", [job_id], **lag).stdout == "running\n"
    late = donau.script("donau-status.py", [job_id], HHRNET_DONAU_UNKNOWN_GRACE="0", **lag)
    assert late.stdout == "failed\n" and "has not listed it" in late.stderr
    time.sleep(0.5)
    assert ["-y", job_id] in donau.calls("dkill")


def test_djob_errors_are_no_verdict(donau, tmp_path):
    job_id = donau.submit("true")
    bindir = tmp_path / "brokenbin"
    bindir.mkdir()
    (bindir / "djob").write_text("#!/bin/sh\necho 'token expired, run dlogin' >&2\nexit 1\n")
    (bindir / "djob").chmod(0o755)
    proc = donau.script("donau-status.py", [job_id], HHRNET_DONAU_UNKNOWN_GRACE="0",
                        PATH=os.pathsep.join([str(bindir), donau.env["PATH"]]))
    assert proc.stdout == "running\n" and "token expired" in proc.stderr


def test_status_polls_every_job_in_one_batch(donau):
    ids = [donau.submit("true", jobid=k) for k in range(20)]  # the profile follows these
    for job_id in ids:
        donau.wait_state(job_id, "SUCCEEDED")
    answers = [donau.script("donau-status.py", [j], HHRNET_DONAU_STATUS_TTL="60").stdout
               for j in ids]
    assert answers == ["success\n"] * 20
    # one round: the active listing and the -D history, each once for all 20 ids
    assert [c[:4] for c in donau.calls("djob")] == [["-o", "jobid state", "--no-header", ids[0]],
                                                   ["-o", "jobid state", "--no-header", "-D"]]


# ------------------------------------------------------------------------- 3: wall time

def test_item3_wall_time_is_requested_from_runtime(donau):
    donau.script("donau-submit.py", [str(donau.jobscript("sleep 300", runtime=0.05, mem_mb=6000,
                                                          npu=1))])  # 0.05 min = 3 s
    job_id = donau.jobs()[-1]["id"]  # what dsub was given, whatever the script made of its reply
    argv = donau.job(job_id)["argv"]
    assert argv[argv.index("-T") + 1] == "3"
    assert argv[argv.index("-R") + 1] == "cpu=2;mem=6000;npu=1"
    job = donau.wait_state(job_id, "FAILED", "SUCCEEDED", timeout=30)  # the stand-in enforces -T
    assert job["state"] == "FAILED" and job["system_exit_code"] != 0
    other = donau.script("donau-submit.py",
                         [str(donau.jobscript("true", jobid=2, runtime=120, npu=2))],
                         HHRNET_DONAU_NPU_KEY="ascend910b", FAKE_DONAU_NPU_KEY="ascend910b")
    assert other.returncode == 0, other.stdout
    argv = donau.jobs()[-1]["argv"]
    assert argv[argv.index("-T") + 1] == "7200"
    assert argv[argv.index("-R") + 1] == "cpu=2;ascend910b=2"


def test_gpu_jobs_ask_dsub_for_a_gpu(donau):
    """fact: Donau's GPU item is gpu=N in -R; what the infer rules' gpu resource becomes."""
    job = donau.submit(threads=2, mem_mb=6000, runtime=120, gpu=1)
    argv = donau.job(job)["argv"]
    assert argv[argv.index("-R") + 1] == "cpu=2;mem=6000;gpu=1"
    # the stand-in takes only the documented items (and the NPU item it is told of)
    bad = donau.script("donau-submit.py", [str(donau.jobscript("true", jobid=3, npu=1))],
                       HHRNET_DONAU_NPU_KEY="made_up")
    assert bad.returncode == 1 and "made_up=" in bad.stdout and "unknown resource" in bad.stdout


# ------------------------------------------------------------------------- 4: cancel

def cluster_generic_cancel(donau: Donau, ids: list[str], **extra) -> None:
    """What cluster-generic does on Ctrl-C: the profile's cancel command, 2 seconds, failures
    ignored (snakemake_executor_plugin_cluster_generic 1.0.9, cancel_jobs)."""
    cmd = profile_value("cluster-generic-cancel-cmd")
    if (PROFILE / cmd).exists():  # Snakemake resolves a bare name inside the profile folder
        cmd = str(PROFILE / cmd)
    try:  # stdin: a terminal nobody answers
        subprocess.run([cmd, *ids], cwd=donau.work, env=dict(donau.env, **extra),
                       stdin=subprocess.PIPE, timeout=2, check=True)
    except subprocess.SubprocessError:
        pass


@pytest.mark.parametrize("cancel", [None, "djob -T"])
def test_item4_cancel_needs_no_confirmation_and_fits_in_two_seconds(donau, cancel):
    ids = [donau.dsub("sleep 300", jobid=k) for k in range(3)]
    pgids = [donau.wait_state(j, "RUNNING")["pgid"] for j in ids]
    cluster_generic_cancel(donau, ids, **({"HHRNET_DONAU_CANCEL": cancel} if cancel else {}))
    for job_id, pgid in zip(ids, pgids):
        assert donau.wait_state(job_id, "FAILED", timeout=10).get("cancelled")
        deadline = time.time() + 10
        while alive(pgid) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(pgid), f"job {job_id}'s script still runs"
    name = "djob" if cancel else "dkill"
    assert sorted(c[-1] for c in donau.calls(name) if c[0] in ("-y", "-T")) == sorted(ids)


def test_sidecar_cancels_on_shutdown_what_snakemake_did_not_pass_on(donau):
    """Snakemake's RemoteExecutor hands the cancel command only the jobs not under a status check
    at that moment; the sidecar, terminated on shutdown, cancels the rest, each job once."""
    side = subprocess.Popen([str(PROFILE / profile_value("cluster-generic-sidecar-cmd"))],
                            cwd=donau.work, env=donau.env, stdout=subprocess.PIPE, text=True)
    try:
        assert side.stdout.readline() == "{}\n"  # cluster-generic waits for one line
        ids = [donau.submit("sleep 300", jobid=k) for k in range(3)]
        for job_id in ids:
            donau.wait_state(job_id, "RUNNING")
        cluster_generic_cancel(donau, ids[:1])  # Snakemake passed on only the first one
        side.terminate()  # what cluster-generic does on shutdown
        side.wait(timeout=30)
    finally:
        side.kill()
    for job_id in ids:
        assert donau.wait_state(job_id, "FAILED", timeout=10).get("cancelled")
    assert sorted(c[-1] for c in donau.calls("dkill")) == sorted(ids)


# ------------------------------------------------------------------------- the workflow

# `python` for the rules' shell commands: the real one, except that it fails evaluate.py or
# holds infer.py (a long inference: infer and infer_flip) when the test asks through SHIM_MODE.
PYTHON_SHIM = """#!/bin/sh
case "$SHIM_MODE $*" in
  fail-evaluate*/evaluate.py*) echo "evaluate: failing on purpose (test)" >&2; exit 3;;
  hold-infer*/infer.py*) echo $$ >> "$SHIM_PIDS"; exec sleep 300;;
esac
exec {python} "$@"
"""


@pytest.fixture(scope="module")
def workflow_cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("donau_workflow")
    cluster = Donau(tmp)
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "python").write_text(PYTHON_SHIM.format(python=sys.executable))
    (shim / "python").chmod(0o755)
    cluster.env["PATH"] = os.pathsep.join([str(shim), cluster.env["PATH"]])
    cluster.env.update(FAKE_DONAU_TASK_IDS="1",  # listings as <id>.0 (item 2)
                       DONAU_QUEUE="ascend", DONAU_ACCOUNT="root.proj")
    yield cluster
    cluster.stop_all()


def snakemake_cmd(cluster: Donau, *args: str) -> list[str]:
    return command(cluster.work, "--profile", str(PROFILE), "--retries", "0",
                   "--seconds-between-status-checks", "1", *args)


def run_workflow(cluster: Donau, *args: str, **extra) -> tuple[int, str]:
    proc = subprocess.run(snakemake_cmd(cluster, *args), env=dict(cluster.env, **extra),
                          text=True, capture_output=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


# what a run of tests/configs/synthetic.yaml submits, and what Snakemake runs itself
# (localrules; a dry run does not say which, the run's log does: "localrule X:")
HEAVY = {"make_synthetic_weights", "export_onnx", "preprocess", "preprocess_flip", "infer",
         "infer_flip", "postprocess", "evaluate"}
LOCAL = {"make_synthetic_dataset", "gather_results", "metrics_table", "plot_stage_times",
         "draw_skeletons", "all"}


def planned(cluster: Donau, *args: str) -> dict[str, int]:
    """The jobs a dry run plans that go to the cluster."""
    rc, out = run_workflow(cluster, "-n", *args)
    assert rc == 0, out[-3000:]
    return {rule: n for rule, n in planned_jobs(out).items() if rule not in LOCAL}


def submitted(jobs: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in jobs:
        rule = job["name"].removeprefix("smk_")
        counts[rule] = counts.get(rule, 0) + 1
    return counts


@pytest.fixture(scope="module")
def first_run(workflow_cluster):
    """The synthetic workflow through the profile, with evaluate failing inside its job."""
    plan = planned(workflow_cluster)
    rc, log = run_workflow(workflow_cluster, SHIM_MODE="fail-evaluate")
    return plan, rc, log, workflow_cluster.jobs()


@pytest.mark.workflow
@pytest.mark.slow
def test_workflow_runs_on_the_cluster_and_a_failing_job_fails_the_run(workflow_cluster, first_run):
    plan, rc, log, jobs = first_run
    assert rc != 0, log[-3000:]
    # every job through dsub, each once; keep-going: those after evaluate are not started
    runs = submitted(jobs)
    assert runs.get("evaluate") == 1 and all(plan[rule] == n for rule, n in runs.items()), runs
    states = {j["name"]: j["state"] for j in jobs}
    assert states.pop("smk_evaluate") == "FAILED"
    assert set(states.values()) == {"SUCCEEDED"}, log[-3000:]
    infer = next(j["argv"] for j in jobs if j["name"] == "smk_infer")
    for flag, value in [("-q", "ascend"), ("-A", "root.proj"), ("-T", "7200"),
                        ("-R", "cpu=2;mem=6000")]:  # infer: threads 2, mem_mb 6000, runtime 120
        assert infer[infer.index(flag) + 1] == value, infer
    # the run names the failed job's Donau log and the rule's log, which says why
    evaluate = next(j for j in jobs if j["name"] == "smk_evaluate")
    donau_log = evaluate["argv"][evaluate["argv"].index("-oo") + 1]
    assert f"donau job {evaluate['id']} (rule evaluate) failed" in log
    assert donau_log in log and Path(donau_log).is_file()
    rule_log = re.search(r"Error in rule evaluate:.*?log: (\S+)", log, re.S).group(1)
    assert "failing on purpose" in (workflow_cluster.work / rule_log).read_text()


@pytest.mark.workflow
@pytest.mark.slow
def test_rerun_submits_only_what_is_missing(workflow_cluster, first_run):
    before = len(workflow_cluster.jobs())
    plan = planned(workflow_cluster)
    assert plan and "evaluate" in plan and "infer" not in plan, plan
    rc, log = run_workflow(workflow_cluster)
    assert rc == 0, log[-3000:]
    new = workflow_cluster.jobs()[before:]
    assert submitted(new) == plan and {j["state"] for j in new} == {"SUCCEEDED"}
    assert planned(workflow_cluster) == {}
    # both runs together: every job of the first plan once, and evaluate once more
    first_plan, _, first_log, _ = first_run
    assert submitted(workflow_cluster.jobs()) == dict(first_plan, evaluate=2)
    # only the heavy rules went through dsub; the small ones ran in Snakemake's process
    assert set(submitted(workflow_cluster.jobs())) == HEAVY
    assert local_rules(first_log + log) == LOCAL


@pytest.mark.workflow
@pytest.mark.slow
def test_ctrl_c_cancels_the_running_jobs(workflow_cluster, first_run):
    cluster = workflow_cluster
    before = len(cluster.jobs())
    pids = cluster.work.parent / "held_pids"
    env = dict(cluster.env, SHIM_MODE="hold-infer", SHIM_PIDS=str(pids))
    output = cluster.work.parent / "ctrl_c.log"
    with open(output, "w") as fh:  # a file, not a pipe: nobody reads it while snakemake runs
        proc = subprocess.Popen(snakemake_cmd(cluster, "--forcerun", "infer"), env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while not (pids.exists() and len(pids.read_text().split()) >= 2):
            assert proc.poll() is None and time.time() < deadline, output.read_text()[-3000:]
            time.sleep(0.2)
        infer = [j for j in cluster.jobs()[before:] if j["name"] in ("smk_infer", "smk_infer_flip")]
        assert len(infer) >= 2 and {j["state"] for j in infer} == {"RUNNING"}
        proc.send_signal(signal.SIGINT)  # Ctrl-C reaches snakemake, not the jobs on the cluster
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = output.read_text()
    assert proc.returncode != 0, log[-3000:]
    for job in infer:
        assert cluster.wait_state(job["id"], "FAILED", timeout=10).get("cancelled"), log[-3000:]
        assert ["-y", job["id"]] in cluster.calls("dkill")
    deadline = time.time() + 10
    held = [int(p) for p in pids.read_text().split()]
    while any(map(alive, held)) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(map(alive, held)), "an inference still runs after Ctrl-C"
    assert not any(j["state"] in ("PENDING", "RUNNING") for j in cluster.jobs())


@pytest.mark.workflow
def test_gpu_config_gives_its_inference_jobs_a_gpu_item(donau):
    """infer.onnxruntime_provider cuda: the inference and benchmark_model jobs carry gpu=1,
    which donau-submit.py turns into dsub -R "...;gpu=1" (above); no other rule asks."""
    rc, out = run_workflow(donau, "-n", "--config", "infer={onnxruntime_provider: cuda}",
                           BENCHMARK_MODEL_ON)
    assert rc == 0, out[-3000:]
    jobs = re.findall(r"^rule (\w+):\n(.*?)(?=^\S)", out, re.M | re.S)
    with_gpu = {rule for rule, body in jobs
                if re.search(r"^\s+resources: .*\bgpu=1\b", body, re.M)}
    assert with_gpu == {"infer", "infer_flip", "benchmark_model"}, jobs
