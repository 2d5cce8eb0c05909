#!/usr/bin/env python3
"""Submit one Snakemake jobscript to Huawei Donau with dsub; print the job id.

Called by snakemake-executor-plugin-cluster-generic as `donau-submit.py JOBSCRIPT`.
The job's rule, threads and resources come from the `# properties = {...}` line
that Snakemake writes into every jobscript.  dsub options used (documented in
Donau user manuals): -n name, -q queue, -A account, -R "cpu=..;mem=..",
-oo/-eo overwrite-mode stdout/stderr files, -s script.
NOT verified on a real Donau: the NPU key inside -R (default "npu", override
with HHRNET_DONAU_NPU_KEY) and the exact text dsub prints (we accept "<123>"
or a leading number).  See profiles/donau/README.md.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path


def job_properties(jobscript: str) -> dict:
    for line in Path(jobscript).read_text().splitlines():
        if line.startswith("# properties = "):
            return json.loads(line[len("# properties = "):])
    sys.exit(f"donau-submit: {jobscript} has no '# properties = ' line (not a Snakemake jobscript)")


def resource_request(props: dict) -> str:
    res = props.get("resources", {})
    parts = [f"cpu={max(1, int(props.get('threads', 1)))}"]
    if res.get("mem_mb"):
        parts.append(f"mem={int(res['mem_mb'])}")  # Donau's default unit for mem is MB
    npu = int(res.get("npu") or 0)
    if npu:
        parts.append(f"{os.environ.get('HHRNET_DONAU_NPU_KEY', 'npu')}={npu}")
    return ";".join(parts)


def dsub_argv(props: dict, jobscript: str, logdir: Path) -> list[str]:
    res = props.get("resources", {})
    rule = props.get("rule") or f"group_{props.get('groupid', 'job')}"
    log = logdir / f"rule_{rule}" / f"{props.get('jobid', 'job')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = ["dsub", "-n", f"smk_{rule}"]
    if res.get("donau_queue"):
        argv += ["-q", str(res["donau_queue"])]
    if res.get("donau_account"):
        argv += ["-A", str(res["donau_account"])]
    argv += ["-R", resource_request(props), "-oo", str(log), "-eo", str(log) + ".err"]
    if res.get("donau_extra"):
        argv += str(res["donau_extra"]).split()
    return argv + ["-s", jobscript]


def parse_job_id(text: str) -> str | None:
    m = re.search(r"<(\d+)>", text) or re.search(r"^\s*(\d+)\s*$", text, re.M)
    return m.group(1) if m else None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.exit("usage: donau-submit.py JOBSCRIPT")
    jobscript = argv[0]
    props = job_properties(jobscript)
    logdir = Path(".snakemake/donau_logs").resolve()
    cmd = dsub_argv(props, jobscript, logdir)
    os.chmod(jobscript, os.stat(jobscript).st_mode | 0o111)  # dsub -s wants an executable script
    proc = subprocess.run(cmd, text=True, capture_output=True)
    job_id = parse_job_id(proc.stdout + "\n" + proc.stderr)
    if proc.returncode != 0 or job_id is None:
        sys.exit(f"donau-submit: {' '.join(cmd)} failed (exit {proc.returncode}):\n"
                 f"{proc.stdout}{proc.stderr}")
    # remembered for donau-status.py, which names the log of a failed job
    jobs = logdir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / job_id).write_text(cmd[cmd.index("-oo") + 1] + "\n")
    print(job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
