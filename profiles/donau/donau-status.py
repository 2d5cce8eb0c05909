#!/usr/bin/env python3
"""Print running/success/failed for one Donau job id (cluster-generic status command).

Asks `djob` for the active job, then `djob -D` (finished-job history).  Success
is reported only when Donau says so: a job that neither lists is NOT taken as
finished (snakemake-executor-plugin-donau 0.1.3 does that); it stays "running"
for HHRNET_DONAU_UNKNOWN_GRACE seconds (default 600) and is then "failed".
The state names below are those seen in Donau job listings and in the donau
plugin; they are not verified against every Donau release -- see README.md.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

SUCCESS = {"SUCCEEDED", "SUCCESS", "FINISHED", "DONE", "COMPLETED"}
FAILED = {"FAILED", "ABORTED", "TERMINATED", "KILLED", "CANCELLED", "CANCELED", "TIMEOUT",
          "EXIT", "NODE_FAIL"}
ACTIVE = {"PENDING", "WAITING", "QUEUED", "QUEUING", "SUBMITTED", "SCHEDULING", "DISPATCHING",
          "STARTING", "RUNNING", "SUSPENDED", "SUSPENDING", "RESUMING", "STOPPING",
          "TERMINATING", "REQUEUED"}
JOBS = Path(".snakemake/donau_logs/jobs")


def state_in(text: str, job_id: str) -> str | None:
    """The state word on the line that starts with this job id; LISTED when the
    job is listed with a state word we do not know; None when it is not listed."""
    for line in text.splitlines():
        tokens = line.replace("|", " ").split()
        if tokens and tokens[0] == job_id:
            for token in tokens[1:]:
                if token.upper() in SUCCESS | FAILED | ACTIVE:
                    return token.upper()
            return "LISTED"
    return None


def query(job_id: str) -> str | None:
    for history in ([], ["-D"]):
        for argv in (["djob", "-o", "jobid state", "--no-header", *history, job_id],
                     ["djob", *history, job_id]):
            try:
                proc = subprocess.run(argv, text=True, capture_output=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if proc.returncode == 0:
                state = state_in(proc.stdout, job_id)
                if state:
                    return state
    return None


def log_of(job_id: str) -> str:
    f = JOBS / job_id
    return f.read_text().strip() if f.exists() else "(unknown log: job not submitted here)"


def status(job_id: str) -> str:
    state = query(job_id)
    marker = JOBS / f"{job_id}.unknown"
    if state in SUCCESS:
        return "success"
    if state in FAILED:
        print(f"donau job {job_id} ended {state}; its output: {log_of(job_id)}", file=sys.stderr)
        return "failed"
    if state in ACTIVE or state == "LISTED":
        if state == "LISTED":
            print(f"donau job {job_id}: djob lists it with a state not known to "
                  f"{__file__}; assuming it is still active", file=sys.stderr)
        marker.unlink(missing_ok=True)
        return "running"
    grace = float(os.environ.get("HHRNET_DONAU_UNKNOWN_GRACE", "600"))
    JOBS.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        marker.write_text(str(time.time()))
    if time.time() - float(marker.read_text()) < grace:
        return "running"
    print(f"donau job {job_id}: djob (active and -D history) has not reported it for "
          f"{grace:.0f} s; treating it as failed. Its output: {log_of(job_id)}", file=sys.stderr)
    return "failed"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: donau-status.py JOBID")
    print(status(sys.argv[1]))
