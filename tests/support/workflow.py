"""Running real snakemake subprocesses from the tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "Snakefile"
CONFIGS = ROOT / "tests" / "configs"


def env() -> dict:
    """The shell rules call `python`: make it this interpreter (the project's venv)."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    return e


def command(workdir: Path, *args: str, configfile: str | Path = CONFIGS / "synthetic.yaml",
            config: list[str] | None = None, snakefile: Path = SNAKEFILE) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
           "--directory", str(workdir), "--configfile", str(configfile)]
    if config:
        cmd += ["--config", *config]
    return cmd + list(args)


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900,
              **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(command(workdir, *args, **kw), env=env(), text=True,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> count from the 'Job stats' table of a dry run ({} when nothing to do)."""
    jobs: dict[str, int] = {}
    m = re.search(r"Job stats:\n(.*?)\n\s*total\s+\d+", output, re.S)
    if not m:
        return jobs
    for line in m.group(1).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    return jobs


def planned_outputs(dry_run: str, *rules: str) -> list[str]:
    """The output files of the jobs of these rules in a dry run's job listing."""
    blocks = re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S)", dry_run, re.S | re.M)
    return [f for rule, body in blocks if rule in rules
            for line in re.findall(r"^\s+output: (.*)$", body, re.M) for f in line.split(", ")]


def local_rules(dry_run: str) -> set[str]:
    """Rules a dry run lists as `localrule` (run by Snakemake itself, never submitted)."""
    return set(re.findall(r"^localrule (\w+):$", dry_run, re.M))


def executed_rules(log: str) -> dict[str, int]:
    """Rule -> number of jobs a real run started (its `rule X:` / `localrule X:` headers)."""
    jobs: dict[str, int] = {}
    for rule in re.findall(r"^(?:local)?rule (\w+):$", log, re.M):
        jobs[rule] = jobs.get(rule, 0) + 1
    return jobs


PASS_OF = {"preprocess": "prep", "infer": "prep", "preprocess_flip": "flip", "infer_flip": "flip"}


def tensors_in_flight(log: str) -> int:
    """The most shard-passes a real run held preprocessed tensors for at once, from its log:
    from the start of a preprocess job until the end of the inference job that reads them."""
    jobs: dict[str, tuple[str, str]] = {}  # jobid -> (rule, shard)
    held, peak = set(), 0
    for m in re.finditer(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S)|^Finished jobid: (\d+)", log,
                         re.S | re.M):
        if m.group(1):
            rule, body = m.group(1), m.group(2)
            jobid = re.search(r"^\s+jobid: (\d+)$", body, re.M).group(1)
            shard = re.search(r"^\s+wildcards: .*shard=(\d+)", body, re.M)
            jobs[jobid] = (rule, shard.group(1) if shard else "")
            if rule in ("preprocess", "preprocess_flip"):
                held.add((PASS_OF[rule], jobs[jobid][1]))
                peak = max(peak, len(held))
        else:
            rule, shard = jobs.get(m.group(3), ("", ""))
            if rule in ("infer", "infer_flip"):
                held.discard((PASS_OF[rule], shard))
    return peak


def run_logs(workdir: Path) -> list[str]:
    """The texts of the Snakemake logs in a work folder, oldest first."""
    return [p.read_text() for p in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))]


def copy_project(dest: Path) -> Path:
    """A copy of the project's files as a fresh clone has them (tracked and not ignored)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest
# Two engines (ONNX Runtime, PyTorch, the Ascend doubles' session) agree to about 1e-5 on these
# outputs; which near-tied grouping decisions flip on noise depends on the CPU's kernels, so
# engines are compared on their raw outputs, never on noise-derived final results.
ENGINE_RTOL = ENGINE_ATOL = 1e-4

# tests/configs/synthetic.yaml turns the per-shape benchmark off (5 s of every run); the tests
# of it, and of the README's re-run table that names it, turn it on with this
BENCHMARK_MODEL_ON = "benchmark_model={enabled: true}"


def synthetic_raw_output_files() -> int:
    """Raw output files of one backend's run of tests/configs/synthetic.yaml: 2 arrays per
    image and pass, 2 passes."""
    config = yaml.safe_load((CONFIGS / "synthetic.yaml").read_text())
    return config["dataset"]["synthetic_images"] * 2 * 2


def raw_outputs(run: Path) -> dict[str, Path]:
    """'shardK/<output dir>/<stem>_<i>.npy' -> file, for every raw output of a backend's run."""
    return {str(p.relative_to(run / "infer")): p
            for p in sorted((run / "infer").glob("shard*/output*_dir/*.npy"))}


def assert_raw_outputs_close(run: Path, other: Path, rtol: float = ENGINE_RTOL,
                             atol: float = ENGINE_ATOL) -> int:
    """Every raw output file of two backends' runs: same names, shapes and values within
    |a - b| <= atol + rtol * |b|. Returns the number of files compared."""
    ours, theirs = raw_outputs(run), raw_outputs(other)
    assert ours and sorted(ours) == sorted(theirs), (sorted(ours), sorted(theirs))
    for name, path in ours.items():
        a, b = np.load(path), np.load(theirs[name])
        assert a.shape == b.shape and a.dtype == b.dtype, name
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)
    return len(ours)
