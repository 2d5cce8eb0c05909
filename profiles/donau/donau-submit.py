#!/usr/bin/env python3
"""Submit one Snakemake jobscript to Huawei Donau with dsub; print the job id.

Called by snakemake-executor-plugin-cluster-generic as `donau-submit.py JOBSCRIPT`. The job's
rule, threads and resources come from the `# properties = {...}` line of the jobscript; the dsub
command line and the reading of dsub's reply are in donau_jobs.py (facts: ../shared/ASCEND_TOOLS.md,
"Donau"). On failure the whole dsub output is printed to stdout, which cluster-generic puts into
Snakemake's error message for the job.
"""
import os
import shlex
import subprocess
import sys

import donau_jobs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: donau-submit.py JOBSCRIPT")
        return 2
    jobscript = argv[0]
    try:
        props = donau_jobs.job_properties(jobscript)
    except (OSError, ValueError) as e:
        print(f"donau-submit: {e}")
        return 1
    log = donau_jobs.job_log(props)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = donau_jobs.dsub_argv(props, jobscript, log, donau_jobs.npu_key())
    os.chmod(jobscript, os.stat(jobscript).st_mode | 0o111)  # fact: dsub -s wants an executable script
    try:
        proc = subprocess.run(cmd, text=True, capture_output=True, stdin=subprocess.DEVNULL)
    except OSError as e:
        print(f"donau-submit: cannot run {cmd[0]}: {e} (is Donau's client on PATH? dlogin?)")
        return 1
    output = proc.stdout + proc.stderr
    job_id = donau_jobs.parse_submit_output(proc.stdout) if proc.returncode == 0 else None
    if job_id is None:
        if proc.returncode == 0:
            why = ("exited 0 but printed no job id this profile can read; the job may have been "
                   "submitted: check `djob` before running again")
        else:
            why = f"failed (exit {proc.returncode})"
        print(f"donau-submit: {shlex.join(cmd)} {why}. Its whole output:\n{output}")
        return 1
    donau_jobs.record_job(job_id, props, log)  # donau-status.py names the log of a failed job
    print(job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
