"""A small Donau cluster on this machine, for the tests: dsub, djob and dkill that print what the
real commands print and really run the job scripts, in the background.

Every behaviour cites its fact in ../shared/ASCEND_TOOLS.md, section "Donau" ("fact: ...", whose
sources are O = cemc-oper/orvix donau.go, P = snakemake-executor-plugin-donau). Where the real
behaviour is unknown the stand-in is strict (it refuses what is not documented) and says so
("unverified").

State: $FAKE_DONAU (required) holds jobs/<id>.json, one per job, changed under an flock on
$FAKE_DONAU/lock, and calls.jsonl, one JSON argv per command run (the tests count djob calls).
Test knobs (not Donau behaviour): FAKE_DONAU_TASK_IDS=1 lists jobs as <id>.0;
FAKE_DONAU_HISTORY_LAG_S=N keeps a finished job out of every listing for N s (a lagging history
database); FAKE_DONAU_NO_BATCH=1 refuses several ids in one djob call; FAKE_DONAU_PENDING_S=N
keeps a job PENDING for N s before it starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

FIRST_ID = 1645534805  # fact: the id in dsub's documented reply
ACTIVE = ("PENDING", "RUNNING")  # fact: states PENDING, RUNNING, SUCCEEDED, FAILED
# fact: dsub -n, -q, -A, -R, -N/-nn, -T, -o/-oo, -e/-eo, -s (each takes a value)
DSUB_FLAGS = {"-n", "-q", "-A", "-R", "-N", "-nn", "-T", "-o", "-oo", "-e", "-eo", "-s"}


def state_dir() -> Path:
    d = os.environ.get("FAKE_DONAU")
    if not d:
        sys.exit("fake donau: FAKE_DONAU (the state folder) is not set")
    (Path(d) / "jobs").mkdir(parents=True, exist_ok=True)
    return Path(d)


@contextmanager
def locked():
    with open(state_dir() / "lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def job_path(job_id: str) -> Path:
    return state_dir() / "jobs" / f"{job_id}.json"


def load(job_id: str) -> dict | None:
    try:
        return json.loads(job_path(job_id).read_text())
    except (OSError, ValueError):
        return None


def save(job: dict) -> None:
    path = job_path(job["id"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(job))
    os.replace(tmp, path)


def log_call(name: str, argv: list[str]) -> None:
    with open(state_dir() / "calls.jsonl", "a") as fh:
        fh.write(json.dumps([name, *argv]) + "\n")


# ------------------------------------------------------------------------------------ dsub

def parse_seconds(text: str) -> int:
    """fact: -T SECONDS; job scripts also write `#DSUB -T 8h`."""
    m = re.fullmatch(r"(\d+)([smhd]?)", text)
    if not m:
        raise ValueError(f"invalid -T value {text!r}")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def parse_request(text: str) -> dict[str, str]:
    """fact: -R "cpu=2;mem=51200" (also written cpu=2,mem=50G); GPUs are `gpu=N`. The NPU
    item's name is unverified: the stand-in takes the one in $FAKE_DONAU_NPU_KEY (test
    contract, default npu) and refuses any other key."""
    items = {}
    known = {"cpu", "mem", "gpu", os.environ.get("FAKE_DONAU_NPU_KEY") or "npu"}
    for item in re.split(r"[;,]", text):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"-R item {item!r} is not key=value")
        if key not in known:
            raise ValueError(f"-R {key}={value!r}: unknown resource")  # unverified text
        if key == "mem":
            if not re.fullmatch(r"\d+([MG]B?)?", value):
                raise ValueError(f"-R mem={value!r} is not a size")
        elif not value.isdigit() or (key == "cpu" and int(value) < 1):
            raise ValueError(f"-R {key}={value!r} is not a count")
        items[key] = value
    return items


def dsub(argv: list[str]) -> int:
    opts, i = {}, 0
    while i < len(argv):
        flag = argv[i]
        if flag not in DSUB_FLAGS or i + 1 >= len(argv):
            print(f"dsub: unknown option or missing value: {flag}", file=sys.stderr)  # unverified text
            return 1
        opts[flag] = argv[i + 1]
        i += 2
    try:
        script = Path(opts["-s"]).resolve()
        if not (script.is_file() and os.access(script, os.X_OK)):
            raise ValueError(f"job script {script} does not exist or is not executable")  # fact
        request = parse_request(opts.get("-R", "cpu=1"))
        wall = parse_seconds(opts["-T"]) if "-T" in opts else None
    except (KeyError, ValueError) as e:
        print(f"dsub: {e if not isinstance(e, KeyError) else 'no -s SCRIPT given'}", file=sys.stderr)
        return 1
    with locked():
        ids = [int(p.stem) for p in (state_dir() / "jobs").glob("*.json")]
        job_id = str(max(ids, default=FIRST_ID - 1) + 1)
        save({"id": job_id, "argv": ["dsub", *argv], "name": opts.get("-n", script.name),
              "request": request, "wall_seconds": wall, "cwd": os.getcwd(), "script": str(script),
              "state": "PENDING", "submitted": time.time()})
    # Runs the job "on a node": detached, with the submitter's environment and folder (whether
    # real Donau exports the environment is unverified; Snakemake's jobscripts cd themselves).
    with open(state_dir() / "jobs" / f"{job_id}.runner.log", "w") as runner_log:
        runner = subprocess.Popen([sys.executable, os.path.abspath(__file__), "run", job_id],
                                  stdin=subprocess.DEVNULL, stdout=runner_log, stderr=runner_log,
                                  start_new_session=True)
    with locked():
        save(dict(load(job_id), runner_pid=runner.pid))  # for the tests' clean-up
    # fact: dsub prints a two-line table `JOBID      MESSAGE` / `1645534805 Submit job successfully.`
    print(f"{'JOBID':<10} MESSAGE\n{job_id:<10} Submit job successfully.")
    return 0


def run_job(job_id: str) -> int:
    """The job on its node: stdout/stderr to -oo/-eo (overwrite) or -o/-e (append), fact; the wall
    time -T enforced (fact: -T is the wall time; the state of a job over it is unverified:
    FAILED here)."""
    time.sleep(float(os.environ.get("FAKE_DONAU_PENDING_S", "0")))
    job = load(job_id)
    opts = dict(zip(job["argv"][1::2], job["argv"][2::2]))

    def stream(over: str, append: str):
        if over in opts:
            return open(opts[over], "w")
        if append in opts:
            return open(opts[append], "a")
        return None

    out = stream("-oo", "-o") or subprocess.DEVNULL
    err = stream("-eo", "-e") or subprocess.STDOUT
    with locked():
        job = load(job_id)
        if job["state"] != "PENDING":  # cancelled while pending
            return 0
        proc = subprocess.Popen([job["script"]], cwd=job["cwd"], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        job.update(state="RUNNING", pgid=proc.pid, started=time.time())
        save(job)
    try:
        rc = proc.wait(timeout=job["wall_seconds"])
        over_time = False
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        rc, over_time = proc.wait(), True
    kill_group(proc.pid)  # nothing of a finished job keeps running on the node
    with locked():
        job = load(job_id)
        if job["state"] == "RUNNING":  # not cancelled meanwhile
            code = rc if rc >= 0 else 128 - rc
            job.update(state="SUCCEEDED" if rc == 0 and not over_time else "FAILED",
                       job_exit_code=code, system_exit_code=1 if over_time else 0,
                       ended=time.time())
            save(job)
    return 0


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ------------------------------------------------------------------------------------ djob

def listed(job: dict | None, history: bool) -> bool:
    """Active jobs in the plain listing, finished ones with -D (P: "active list, then -D, the
    finished-job history"); FAKE_DONAU_HISTORY_LAG_S delays the latter."""
    if job is None:
        return False
    if job["state"] in ACTIVE:
        return not history
    lag = float(os.environ.get("FAKE_DONAU_HISTORY_LAG_S", "0"))
    return history and time.time() - job.get("ended", 0) >= lag


def shown_id(job_id: str) -> str:
    return f"{job_id}.0" if os.environ.get("FAKE_DONAU_TASK_IDS") == "1" else job_id  # fact: <id>.<index>


def djob(argv: list[str]) -> int:
    args = list(argv)
    if args[:1] == ["-ll"] and len(args) == 2:
        # fact: djob -ll prints key/value lines jobId N, state S, jobExitCode, systemExitCode
        job = load(args[1].split(".")[0])
        if job and (listed(job, False) or listed(job, True)):
            print(f"jobId {job['id']}\nstate {job['state']}")
            if job["state"] not in ACTIVE:
                print(f"jobExitCode {job['job_exit_code']}\nsystemExitCode {job['system_exit_code']}")
        return 0
    if args[:1] == ["-T"] and len(args) >= 2:
        return cancel(args[1:])  # fact: some sites cancel with djob -T <id>
    history = "-D" in args
    if "-D" in args:
        args.remove("-D")
    # P: djob -o "jobid state" --no-header [-D] ID... ; P 0.1.3 (fact): djob -D -o state --no-header ID
    if len(args) >= 4 and args[0] == "-o" and args[1] in ("jobid state", "state") and \
            args[2] == "--no-header":
        ids = args[3:]
        if len(ids) > 1 and os.environ.get("FAKE_DONAU_NO_BATCH") == "1":
            print("djob: too many arguments", file=sys.stderr)
            return 1
        for token in ids:
            job = load(token.split(".")[0])
            if listed(job, history):
                row = [shown_id(job["id"]), job["state"]] if args[1] == "jobid state" else [job["state"]]
                print("  ".join(row))
        return 0  # an id it does not list: no row (what real djob does then is unverified)
    print(f"fake djob: {argv} is not a form documented in ASCEND_TOOLS.md", file=sys.stderr)
    return 2


# ------------------------------------------------------------------------------------ dkill

def cancel(ids: list[str]) -> int:
    """Kill the jobs' processes. The state of a cancelled job is unverified: FAILED here."""
    rc = 0
    for token in ids:
        job_id = token.split(".")[0]
        with locked():
            job = load(job_id)
            if job is None or job["state"] not in ACTIVE:
                print(f"job {token} is not pending or running", file=sys.stderr)  # unverified text
                rc = 1
                continue
            if job.get("pgid"):
                kill_group(job["pgid"])
            job.update(state="FAILED", job_exit_code=137, system_exit_code=0, cancelled=True,
                       ended=time.time())
            save(job)
        print(f"job {token} killed")  # unverified text
    return rc


def dkill(argv: list[str]) -> int:
    ids = [a for a in argv if a not in ("-y", "--force")]
    if not ids or any(a.startswith("-") for a in ids):
        print(f"dkill: bad arguments {argv}", file=sys.stderr)
        return 1
    if "-y" not in argv:
        # fact: dkill asks for confirmation unless given -y (the prompt's words are unverified)
        print(f"Are you sure to kill job(s) {' '.join(ids)}? (y/n) ", end="", flush=True)
        if sys.stdin.readline().strip().lower() != "y":
            print("\ncanceled")
            return 1
    return cancel(ids)


def main() -> int:
    name, argv = Path(sys.argv[1]).name, sys.argv[2:]
    if name == "run":
        return run_job(argv[0])
    log_call(name, argv)
    return {"dsub": dsub, "djob": djob, "dkill": dkill}[name](argv)


if __name__ == "__main__":
    sys.exit(main())
