"""profiles/donau against stand-in dsub/djob commands (no Donau cluster exists here).

What is proven: the profile loads, cluster-generic hands every job to
donau-submit.py, the -R request carries cpu/mem and the NPU for rules with
resources npu=N, and donau-status.py maps states without ever inventing a
success.  What is not: the real dsub/djob output formats (README.md says which
parts are assumptions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "donau"

# dsub stand-in: runs the job script at once, remembers argv and the final state.
FAKE_DSUB = r"""#!/usr/bin/env bash
d="$FAKE_DONAU"; id=$(( $(cat "$d/next" 2>/dev/null || echo 100) + 1 )); echo $id > "$d/next"
printf '%s\n' "$@" > "$d/argv.$id"
while [ $# -gt 0 ]; do case "$1" in -oo) out=$2; shift;; -eo) err=$2; shift;; -s) s=$2; shift;; esac; shift; done
if "$s" > "$out" 2> "$err"; then echo SUCCEEDED > "$d/state.$id"; else echo FAILED > "$d/state.$id"; fi
echo "Submit job <$id> successfully."
"""
# djob stand-in: "-o 'jobid state' --no-header [-D] ID" -> "ID STATE", nothing if unknown.
FAKE_DJOB = r"""#!/usr/bin/env bash
for id; do :; done
[ -e "$FAKE_DONAU/state.$id" ] && echo "$id $(cat "$FAKE_DONAU/state.$id")"
exit 0
"""


@pytest.fixture
def fake_donau(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in [("dsub", FAKE_DSUB), ("djob", FAKE_DJOB), ("dkill", "#!/bin/sh\n")]:
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    state = tmp_path / "donau"
    state.mkdir()
    env = dict(os.environ, FAKE_DONAU=str(state))
    env["PATH"] = os.pathsep.join([str(bindir), str(Path(sys.executable).parent), env["PATH"]])
    env.pop("SNAKEMAKE_PROFILE", None)
    return state, env


def status(job_id: str, cwd: Path, env: dict, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROFILE / "donau-status.py"), job_id], cwd=cwd,
                          env=dict(env, **extra), text=True, capture_output=True, timeout=60)


def test_status_maps_states_and_never_invents_success(fake_donau, tmp_path):
    state, env = fake_donau
    for job_id, word in [("1", "RUNNING"), ("2", "SUCCEEDED"), ("3", "FAILED"), ("4", "WEIRD")]:
        (state / f"state.{job_id}").write_text(word + "\n")
    answers = {j: status(j, tmp_path, env).stdout.strip() for j in ("1", "2", "3", "4", "5")}
    assert answers == {"1": "running", "2": "success", "3": "failed", "4": "running",
                       "5": "running"}  # 5: unknown to djob, still inside the grace period
    assert "ended FAILED" in status("3", tmp_path, env).stderr
    late = status("5", tmp_path, env, HHRNET_DONAU_UNKNOWN_GRACE="0")
    assert late.stdout.strip() == "failed"
    assert "has not reported it" in late.stderr


TOY = """
rule all:
    input:
        "post.txt",
        "evaluate.txt",


rule infer:
    output:
        "infer.txt",
    threads: 2
    resources:
        npu=1,
        mem_mb=6000,
    shell:
        "echo infer > {output}"


rule postprocess:
    input:
        "infer.txt",
    output:
        "post.txt",
    shell:
        "cat {input} > {output}"


rule evaluate:
    output:
        "evaluate.txt",
    shell:
        "if [ -e fail.flag ]; then echo 'evaluate: failing on purpose' >&2; exit 3; fi; "
        "echo ok > {output}"
"""


def test_toy_workflow_through_the_donau_profile(fake_donau, tmp_path):
    state, env = fake_donau
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(textwrap.dedent(TOY))
    (work / "fail.flag").write_text("")
    cmd = [sys.executable, "-m", "snakemake", "--profile", str(PROFILE), "--retries", "0",
           "--seconds-between-status-checks", "1"]
    first = subprocess.run(cmd, cwd=work, env=dict(env, DONAU_QUEUE="ascend", DONAU_ACCOUNT="proj"),
                           text=True, capture_output=True, timeout=600)
    log = first.stdout + first.stderr
    assert first.returncode != 0, log[-3000:]
    argvs = [p.read_text().split("\n") for p in sorted(state.glob("argv.*"))]
    by_rule = {argv[1]: argv for argv in argvs}  # recorded argv: -n smk_<rule> ...
    assert len(argvs) == 3
    assert sorted(by_rule) == ["smk_evaluate", "smk_infer", "smk_postprocess"]
    infer = by_rule["smk_infer"]
    assert infer[infer.index("-R") + 1] == "cpu=2;mem=6000;npu=1"
    assert infer[infer.index("-q") + 1] == "ascend" and infer[infer.index("-A") + 1] == "proj"
    post = by_rule["smk_postprocess"]
    assert post[post.index("-R") + 1] == "cpu=1;mem=2000"  # profile default, no NPU
    assert "ended FAILED" in log and ".snakemake/donau_logs/rule_evaluate/" in log
    assert (work / "post.txt").read_text() == "infer\n"

    (work / "fail.flag").unlink()
    before = len(list(state.glob("argv.*")))
    second = subprocess.run(cmd, cwd=work, env=env, text=True, capture_output=True, timeout=600)
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    new = sorted(state.glob("argv.*"))[before:]
    assert [p.read_text().split("\n")[1] for p in new] == ["smk_evaluate"]
    assert json.loads((state / "next").read_text()) == 100 + before + 1
