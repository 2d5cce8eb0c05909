"""What profiles/donau knows about Huawei Donau's dsub/djob/dkill, for the three scripts beside it.

Every format read or written here is one of ../shared/ASCEND_TOOLS.md, section "Donau" (the
facts there name their sources: O = cemc-oper/orvix donau.go, P = snakemake-executor-plugin-donau).
The scripts run under snakemake-executor-plugin-cluster-generic as plain executables; Python puts
their own folder first on sys.path, so they find this module without the project being installed,
and the profile folder works when copied elsewhere.

State kept between calls lives under the workflow's .snakemake/donau_logs/ (the submit, status and
cancel commands all run in Snakemake's working directory):
  jobs/<id>.json       one per submitted job still being followed (rule, log paths, unlisted_since)
  jobs/done/<id>.json  the same once Donau gave a final answer (verdict and the state it said)
  djob-cache.json      the last batched djob answer, reused for HHRNET_DONAU_STATUS_TTL seconds
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

LOGS = Path(".snakemake/donau_logs")
JOBS = LOGS / "jobs"
DONE = JOBS / "done"
CACHE = LOGS / "djob-cache.json"

NPU_KEY_VAR = "HHRNET_DONAU_NPU_KEY"  # the -R item for resources: npu=N (as HHRNET_NPU_GRES for Slurm)
CANCEL_VAR = "HHRNET_DONAU_CANCEL"
# Fact: plain dkill asks for confirmation unless given -y (P uses `dkill -y --force`).
DEFAULT_CANCEL = "dkill -y"
STATES_VAR = "HHRNET_DONAU_STATES"  # site-specific extra names, e.g. "COMPLETED:success,STOPPED:failed"

# Fact: djob job states PENDING, RUNNING, SUCCEEDED, FAILED; others unverified.
SUCCESS = {"SUCCEEDED"}
ACTIVE = {"PENDING", "RUNNING"}
# FAILED is documented; the others are failure names used by P's and O's Donau code (unverified,
# but each means "not a success", so reading them as failed never invents a success).
FAILED = {"FAILED", "ABORTED", "TIMEOUT", "NODE_FAIL", "TERMINATED", "EXIT", "FAILURE",
          "BOOT_FAIL", "DEADLINE", "PREEMPTED", "OUT_OF_MEMORY", "OOM", "CANCELLED", "CANCELED",
          "KILLED"}


# ------------------------------------------------------------------------------- submission

def job_properties(jobscript: str | Path) -> dict:
    """The `# properties = {...}` JSON line Snakemake writes into every jobscript."""
    for line in Path(jobscript).read_text().splitlines():
        if line.startswith("# properties = "):
            return json.loads(line[len("# properties = "):])
    raise ValueError(f"{jobscript} has no '# properties = ' line (not a Snakemake jobscript)")


def rule_name(props: dict) -> str:
    return props.get("rule") or f"group_{props.get('groupid', 'job')}"


def npu_key() -> str:
    return os.environ.get(NPU_KEY_VAR) or "npu"


def resource_request(props: dict, key: str = "npu") -> str:
    """dsub -R "cpu=N;mem=M[;<key>=K][;gpu=G]" (fact: `-R "cpu=2;mem=51200"`, MB without unit;
    GPUs are `gpu=N`; the NPU item is unverified, hence the configurable key)."""
    res = props.get("resources", {})
    parts = [f"cpu={max(1, int(props.get('threads', 1)))}"]
    if res.get("mem_mb"):
        parts.append(f"mem={int(res['mem_mb'])}")
    npu = int(res.get("npu") or 0)
    if npu:
        parts.append(f"{key}={npu}")
    gpu = int(res.get("gpu") or 0)
    if gpu:
        parts.append(f"gpu={gpu}")
    return ";".join(parts)


def wall_time_seconds(props: dict) -> int | None:
    """Fact: dsub -T SECONDS is the wall time; P passes -T runtime*60 (Snakemake's runtime is in
    minutes)."""
    runtime = props.get("resources", {}).get("runtime")
    if runtime in (None, "", 0):
        return None
    return max(1, round(float(runtime) * 60))


def job_log(props: dict, logdir: Path = LOGS) -> Path:
    return logdir.resolve() / f"rule_{rule_name(props)}" / f"{props.get('jobid', 'job')}.log"


def dsub_argv(props: dict, jobscript: str, log: Path, key: str = "npu") -> list[str]:
    """Facts: -n NAME, -q QUEUE, -A ACCOUNT, -R, -T SECONDS, -oo/-eo (overwrite stdout/stderr
    files), -s SCRIPT."""
    res = props.get("resources", {})
    argv = ["dsub", "-n", f"smk_{rule_name(props)}"]
    if res.get("donau_queue"):
        argv += ["-q", str(res["donau_queue"])]
    if res.get("donau_account"):
        argv += ["-A", str(res["donau_account"])]
    argv += ["-R", resource_request(props, key)]
    seconds = wall_time_seconds(props)
    if seconds:
        argv += ["-T", str(seconds)]
    argv += ["-oo", str(log), "-eo", f"{log}.err"]
    if res.get("donau_extra"):
        argv += shlex.split(str(res["donau_extra"]))
    return argv + ["-s", str(jobscript)]


def parse_submit_output(text: str) -> str | None:
    """The job id dsub printed, or None.

    Fact: dsub prints a table, `JOBID      MESSAGE` then `1645534805 Submit job successfully.`
    (O reads the first field of the line after the header, else the first numeric first field).
    The LSF-style `Job <123> is submitted` form some site wrappers print is read as well.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        fields = line.split()
        if fields and fields[0].upper() == "JOBID":
            for below in lines[i + 1:]:
                cells = below.split()
                if cells:
                    return cells[0] if re.fullmatch(r"\d+", cells[0]) else None
    m = re.search(r"<(\d+)>", text)
    if m:
        return m.group(1)
    for line in lines:
        fields = line.split()
        if fields and re.fullmatch(r"\d+", fields[0]):
            return fields[0]
    return None


def record_job(job_id: str, props: dict, log: Path) -> None:
    write_json(JOBS / f"{job_id}.json",
               {"id": job_id, "rule": rule_name(props),
                "log": str(log), "err": f"{log}.err", "submitted": time.time()})


# ------------------------------------------------------------------------------- djob output

def base_id(token: str) -> str:
    """Fact: ids may appear as <id>.<index> (O queries `djob -L <id>.0`)."""
    head, dot, index = token.partition(".")
    return head if dot and index.isdigit() else token


def parse_state_rows(text: str, ids: set[str]) -> dict[str, list[str]]:
    """`djob -o "jobid state" --no-header ID...` rows (P): `<id>[.<index>] <STATE>` per line.
    Returns id -> the states of its rows (one per index)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.replace("|", " ").split()
        if len(fields) >= 2 and base_id(fields[0]) in ids:
            rows.setdefault(base_id(fields[0]), []).append(fields[1].upper())
    return rows


KEY_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z_]*)\s*(?:[:=]\s*|\s+)(\S+)")


def parse_key_values(text: str) -> dict[str, dict[str, str]]:
    """`djob -ll ID` (fact): key/value lines `jobId N`, `state SUCCEEDED`, `jobExitCode 0`,
    `systemExitCode 0`; keys compared case-insensitively (O reads a `STATE` line of `djob -L`).
    Returns id -> {lower-case key: value}."""
    records: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        m = KEY_VALUE.match(line)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2)
        if key == "jobid":
            current = records.setdefault(base_id(value), {})
        if current is not None:
            current.setdefault(key, value)
    return records


def extra_states() -> dict[str, str]:
    out = {}
    for item in os.environ.get(STATES_VAR, "").split(","):
        name, _, verdict = item.partition(":")
        if name.strip() and verdict.strip() in ("success", "failed", "running"):
            out[name.strip().upper()] = verdict.strip()
    return out


def state_verdict(state: str) -> str | None:
    """success / failed / running for a known state name, None for an unknown one."""
    state = state.upper()
    extra = extra_states()
    if state in extra:
        return extra[state]
    if state in SUCCESS:
        return "success"
    if state in FAILED:
        return "failed"
    if state in ACTIVE:
        return "running"
    return None


def combine(states: list[str]) -> tuple[str, str]:
    """One verdict for the rows of one job (several when it has indexes): failed if any row
    failed, success only if every row succeeded, else running (an unknown name while listed)."""
    verdicts = [state_verdict(s) for s in states]
    said = f"djob lists it as {','.join(states)}"
    if "failed" in verdicts:
        return "failed", said
    if verdicts and all(v == "success" for v in verdicts):
        return "success", said
    if None in verdicts:
        said += (", a state name this profile does not know, so taken as still running "
                 f"(name it in {STATES_VAR} if your Donau uses it)")
    return "running", said


def key_value_verdict(record: dict[str, str]) -> tuple[str, str]:
    verdict, said = combine([record.get("state", "(no state line)").upper()])
    codes = {k: record[k] for k in ("jobexitcode", "systemexitcode") if k in record}
    if verdict == "success" and any(v != "0" for v in codes.values()):
        verdict = "failed"  # never a success with a nonzero exit code
    names = {"jobexitcode": "jobExitCode", "systemexitcode": "systemExitCode"}
    if codes:
        said += " (" + ", ".join(f"{names[k]} {v}" for k, v in codes.items()) + ")"
    return verdict, said


# ------------------------------------------------------------------------------- status

def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(argv, text=True, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def query(ids: set[str], runner=run) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Ask djob about these job ids with as few calls as djob allows.

    1. `djob -o "jobid state" --no-header ID...` (active jobs), then 2. the same with -D (finished
    jobs) for those not listed: P's queries, one call for all ids;
    3. `djob -ll ID` (fact: key/value lines) for each id still not listed, or for all of them
    when djob refuses the batched form.
    Returns ({id: (verdict, what djob said)}, {id: why djob could not be asked}); an id in
    neither is one that djob answered for without listing it.
    """
    answers: dict[str, tuple[str, str]] = {}
    left = set(ids)
    for history in ([], ["-D"]):
        if not left:
            break
        proc = runner(["djob", "-o", "jobid state", "--no-header", *history, *sorted(left)])
        if proc is None or proc.returncode != 0:
            break  # this form is refused here: ask per id below
        for job_id, states in parse_state_rows(proc.stdout, left).items():
            answers[job_id] = combine(states)
        left -= set(answers)
    errors = {}
    for job_id in sorted(left):
        argv = ["djob", "-ll", job_id]
        proc = runner(argv)
        if proc is None or proc.returncode != 0:
            why = "could not be run or timed out" if proc is None else (
                f"exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:300]}")
            errors[job_id] = f"{shlex.join(argv)} {why}"
            continue
        record = parse_key_values(proc.stdout).get(job_id)
        if record is not None:
            answers[job_id] = key_value_verdict(record)
    return answers, errors


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def log_names(job: dict | None) -> str:
    if not job or not job.get("log"):
        return "(log unknown: the job was not submitted from this folder)"
    return f"{job['log']} (stderr: {job['err']})"


def cached_answers(job_id: str, ttl: float) -> dict | None:
    cache = read_json(CACHE)
    if cache and job_id in cache.get("asked", []) and time.time() - cache["time"] < ttl:
        return cache
    return None


def refresh(job_id: str, grace: float, runner=run) -> dict:
    """One batched djob round for every followed job (plus job_id); records final answers."""
    followed = {p.stem for p in JOBS.glob("*.json")} | {job_id}
    answers, errors = query(followed, runner)
    now = time.time()
    cache = {"time": now, "asked": sorted(followed), "answers": {}}
    for jid in sorted(followed):
        path = JOBS / f"{jid}.json"
        job = read_json(path) or {"id": jid, "log": None}
        if jid in errors:  # no answer is not "unlisted": nothing is concluded
            cache["answers"][jid] = ("running", f"{errors[jid]}; taken as still running")
            continue
        if jid in answers:
            verdict, said = answers[jid]
            job.pop("unlisted_since", None)
        else:
            since = job.setdefault("unlisted_since", now)
            if now - since < grace:
                verdict, said = "running", (f"djob has not listed it for {now - since:.0f} s; "
                                            f"taken as still running for up to {grace:.0f} s")
            else:
                verdict, said = "failed", (f"djob (active, -D history, -ll) has not listed it "
                                           f"for {grace:.0f} s; sent the cancel command so that "
                                           "a retry cannot run beside it")
                cancel([jid])
        cache["answers"][jid] = (verdict, said)
        if verdict in ("success", "failed"):
            job.update(verdict=verdict, said=said)
            write_json(DONE / f"{jid}.json", job)
            path.unlink(missing_ok=True)
        else:
            write_json(path, job)
    write_json(CACHE, cache)
    return cache


def status(job_id: str, runner=run) -> tuple[str, str]:
    """(success|failed|running, a message for stderr or "")."""
    done = read_json(DONE / f"{job_id}.json")
    if done:
        verdict, said, job = done["verdict"], done["said"], done
    else:
        ttl = float(os.environ.get("HHRNET_DONAU_STATUS_TTL", "5"))
        grace = float(os.environ.get("HHRNET_DONAU_UNKNOWN_GRACE", "600"))
        cache = cached_answers(job_id, ttl) or refresh(job_id, grace, runner)
        verdict, said = cache["answers"][job_id]
        job = read_json(JOBS / f"{job_id}.json") or read_json(DONE / f"{job_id}.json")
    rule = f" (rule {job['rule']})" if job and job.get("rule") else ""
    if verdict == "failed":
        return verdict, f"donau job {job_id}{rule} failed: {said}; its output: {log_names(job)}"
    if verdict == "running" and "taken as still running" in said:
        return verdict, f"donau job {job_id}{rule}: {said}"
    return verdict, ""


# ------------------------------------------------------------------------------- cancel

def cancel_command() -> list[str]:
    return shlex.split(os.environ.get(CANCEL_VAR) or DEFAULT_CANCEL)


def cancel(ids: list[str], wait: float = 1.5) -> list[str]:
    """Run the cancel command once per id, all at once and detached from this process.

    cluster-generic kills its cancel command after 2 seconds: the cancel commands run in their own
    session, so they finish even then; their output is appended to .snakemake/donau_logs/cancel.log.
    Returns messages for the calls that failed within `wait` seconds.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    failures, procs = [], []
    with open(LOGS / "cancel.log", "a") as log:
        for job_id in ids:
            record = read_json(JOBS / f"{job_id}.json")
            if record is not None:  # the sidecar does not send it twice
                write_json(JOBS / f"{job_id}.json", dict(record, cancel_sent=time.time()))
            argv = [*cancel_command(), job_id]
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(argv)}\n")
            log.flush()
            try:
                procs.append((argv, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                     stderr=subprocess.STDOUT,
                                                     start_new_session=True)))
            except OSError as e:
                failures.append(f"{shlex.join(argv)}: {e}")
    deadline = time.time() + wait
    for argv, proc in procs:
        try:
            rc = proc.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            continue  # still running on its own
        if rc != 0:
            failures.append(f"{shlex.join(argv)} exited {rc} (output: {LOGS / 'cancel.log'})")
    return failures


def unfinished_since(start: float) -> list[str]:
    """Jobs submitted from here since `start` that Donau has not finished nor been asked to cancel."""
    jobs = (read_json(p) for p in sorted(JOBS.glob("*.json")))
    return [j["id"] for j in jobs
            if j and j.get("submitted", 0) >= start and "cancel_sent" not in j]


def sidecar() -> None:
    """cluster-generic's sidecar: started with the run, terminated when the run shuts down.

    Snakemake's RemoteExecutor empties its list of active jobs while a status round checks them
    (snakemake-interface-executor-plugins 9.4, _wait_for_jobs), and cancel() copies that list: on a
    Ctrl-C during a round the jobs under check are not passed to the cancel command. The sidecar is
    terminated on every shutdown (Ctrl-C included) and then cancels every job of this run that
    Donau has not finished and that was not cancelled already. If Snakemake dies without shutting
    down (SIGKILL), it leaves the jobs alone: a re-run resumes them.
    """
    start = time.time() - 1
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # SIGINT: Ctrl-C reaches the whole process group
        signal.signal(sig, lambda *_: stop.append(True))
    print("{}", flush=True)  # cluster-generic reads one line (SNAKEMAKE_CLUSTER_SIDECAR_VARS)
    parent = os.getppid()
    while not stop and os.getppid() == parent:
        time.sleep(0.2)
    if stop:
        left = unfinished_since(start)
        for message in cancel(left) if left else []:
            print(f"donau-sidecar: {message}", file=sys.stderr)


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)
