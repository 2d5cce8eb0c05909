"""The TensorRT engine rule in the DAG (dry runs: no GPU here), the config errors of the
precision switch, and the build job's clear error where ONNX Runtime has no TensorRT provider
(a real run of that job on this CPU machine)."""

from __future__ import annotations

import re

import pytest

from support.workflow import planned_jobs, snakemake

pytestmark = pytest.mark.workflow

ENGINES = "results/model/tensorrt_fp16_b2_dynamic/engines.json"
TRT_FP16 = ["infer={onnxruntime_provider: tensorrt, precision: fp16, batch_size: 2}"]


def jobs_of(dry_run: str, rule: str) -> list[str]:
    """The listing blocks (input, output, shell command) of one rule's jobs in a dry run -p."""
    return re.findall(rf"^rule {rule}:\n(.*?)(?=^\[|\Z)", dry_run, re.S | re.M)


def test_cpu_default_plans_no_engine_build(tmp_path):
    out = snakemake(tmp_path, "-n", "-p").stdout
    jobs = planned_jobs(out)
    assert "build_trt_engines" not in jobs and jobs["infer"] == 2
    assert "--trt-engines" not in out and "--precision" not in out


def test_tensorrt_builds_the_engines_once_and_every_inference_job_loads_them(tmp_path):
    out = snakemake(tmp_path, "-n", "-p", config=TRT_FP16 + [
        "benchmark_model={enabled: true, batch_sizes: [1, 2]}"]).stdout
    jobs = planned_jobs(out)
    assert jobs["build_trt_engines"] == 1
    assert jobs["infer"] == jobs["infer_flip"] == 2 and jobs["benchmark_model"] == 1
    build, = jobs_of(out, "build_trt_engines")
    assert f"output: {ENGINES}" in build and "gpu=1" in build
    assert ("--precision fp16 --max-batch 2 --profiles dynamic --variant w32_512 --scales 1"
            in build)
    for rule in ("infer", "infer_flip", "benchmark_model"):
        for job in jobs_of(out, rule):
            inputs = re.search(r"^\s+input: (.*)$", job, re.M).group(1).split(", ")
            assert ENGINES in inputs, (rule, inputs)
            assert f"--trt-engines {ENGINES}" in job and "--precision fp16" in job
    bench, = jobs_of(out, "benchmark_model")
    assert "--batch-sizes 1,2" in bench


def test_fp16_on_the_cpu_provider_is_refused_before_any_job(tmp_path):
    out = snakemake(tmp_path, "-n", check=False, config=["infer={precision: fp16}"])
    assert out.returncode != 0
    assert ("config problem: infer.precision fp16 with onnxruntime_provider cpu: only the "
            "tensorrt provider runs fp16") in out.stdout + out.stderr


@pytest.mark.slow
def test_engine_build_without_the_tensorrt_provider_fails_with_one_line(tmp_path):
    """Here (ONNX Runtime's CPU build) the build job stops with what to install, and no
    inference job starts on missing engines."""
    out = snakemake(tmp_path, "--cores", "2", ENGINES, check=False, config=TRT_FP16)
    assert out.returncode != 0
    log = (tmp_path / "logs/model/w32_512/build_trt_engines_fp16_b2_dynamic.log").read_text()
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no TensorrtExecutionProvider" in errors[0]
    assert "onnxruntime-gpu" in errors[0]
    assert not (tmp_path / ENGINES).exists()
