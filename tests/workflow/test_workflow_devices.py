"""Every accelerator of the node (issue 23): the synthetic workflow with backend ascend on two
NPUs (ascend.devices: [0, 1], --cores 4) through the Ascend doubles (tests/fakes/README.md),
whose ais_bench refuses a device another running process holds and records the device of
each run. Inference uses both devices, never one twice at once, at most two jobs at once, and
its results are byte-identical to the same run on one device."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from support.workflow import BENCHMARK_MODEL_ON, ROOT, planned_jobs, raw_outputs, snakemake

pytestmark = pytest.mark.workflow

ASCEND = Path("results/synthetic/ascend")
OM = "results/model/higher_hrnet_dynamic_Ascend310P3.om"
SHAPES = ("512x512", "512x576")  # tests/configs/synthetic.yaml's benchmark_model.shapes


def ais_bench_argvs(device: str) -> list[list[str]]:
    """What the workflow hands to the ais_bench double on one device: both passes per shard,
    the benchmark's --loop runs."""
    runs = [[f"--model={OM}", f"--input=results/synthetic/{prep}/shard{k}/{prep}_dir",
             f"--output={ASCEND}/infer/shard{k}", f"--output_dirname={name}", "--outfmt", "NPY",
             "--auto_set_dymdims_mode", "1", "--device", device]
            for k in (0, 1) for prep, name in (("prep", "output_dir"),
                                               ("prep_flip", "output_flip_dir"))]
    work = f"{ASCEND}/benchmark_model_work"
    return runs + [[f"--model={OM}", f"--input={work}/{shape}/input", f"--output={work}/{shape}",
                    "--output_dirname=output", "--outfmt", "NPY", "--auto_set_dymdims_mode",
                    "1", "--loop", "2", "--warmup_count", "1", "--device", device]
                   for shape in SHAPES]


def use_doubles(monkeypatch, state: Path) -> list[str]:
    fakes = ROOT / "tests" / "fakes"
    monkeypatch.setenv("PATH", f"{fakes / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(fakes / "pylib"))
    monkeypatch.setenv("FAKE_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_NPU_STATE", str(state))
    monkeypatch.setenv("FAKE_AIS_BENCH_HOLD_S", "1")  # so that jobs on two devices overlap
    dims = "1024,512;960,512;896,512;832,512;768,512;704,512;640,512;576,512;512,512;" \
           "512,576;512,640;512,704;512,768;512,832;512,896;512,960;512,1024"
    monkeypatch.setenv("FAKE_ATC_EXPECT", json.dumps([
        "--framework=5", "--model=results/model/higher_hrnet_dynamic.onnx",
        "--output=results/model/higher_hrnet_dynamic_Ascend310P3", "--input_format=ND",
        "--input_shape=input:1,3,-1,-1", f"--dynamic_dims={dims}", "--soc_version=Ascend310P3"]))
    monkeypatch.setenv("FAKE_AIS_BENCH_EXPECT", json.dumps(ais_bench_argvs("0") +
                                                           ais_bench_argvs("1")))
    monkeypatch.delenv("ASCEND_RT_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("HHRNET_DEVICE_LOCKS", raising=False)
    # infer.threads 1: four device jobs would fit --cores 4; the npu=2 default holds them to 2
    return ["keep_intermediates=True", BENCHMARK_MODEL_ON, "backend=ascend",
            "infer={threads: 1}"]


def devices_of_runs(state: Path) -> list[dict]:
    return [json.loads(line) for line in (state / "runs.jsonl").read_text().splitlines()]


def most_at_once(runs: list[dict]) -> int:
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs],
                    key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


@pytest.mark.slow
def test_inference_spreads_over_both_npus_with_the_results_of_one(tmp_path, monkeypatch):
    cann = ROOT / "tests" / "fakes" / "cann" / "set_env.sh"
    one, two = tmp_path / "one", tmp_path / "two"
    config = use_doubles(monkeypatch, tmp_path / "npu_one")
    snakemake(one, "--cores", "4", config=config + [
        f"ascend={{cann_env: {cann}, devices: [0]}}"])
    assert {r["physical"] for r in devices_of_runs(tmp_path / "npu_one")} == {"0"}
    # the same work folder on two devices: inference and what follows it again
    shutil.copytree(one, two, symlinks=True)
    shutil.rmtree(two / ".snakemake" / "devices", ignore_errors=True)
    config = use_doubles(monkeypatch, tmp_path / "npu_two")
    # another device list changes no result: it re-runs nothing by itself
    dry = snakemake(two, "-n", config=config + [f"ascend={{cann_env: {cann}, devices: [0, 1]}}"])
    assert planned_jobs(dry.stdout) == {}, dry.stdout
    snakemake(two, "--cores", "4", "--forcerun", "infer", "infer_flip", "benchmark_model",
                     config=config + [f"ascend={{cann_env: {cann}, devices: [0, 1]}}"])
    runs = devices_of_runs(tmp_path / "npu_two")
    infer_runs = [r for r in runs if "/infer/" in r["output"]]
    # every job named one device, both were used, at most one job per device at a time (the
    # double would have failed the job otherwise) and at most two jobs at once
    assert len(infer_runs) == 4 and {r["physical"] for r in infer_runs} == {"0", "1"}, runs
    for device in ("0", "1"):
        assert most_at_once([r for r in runs if r["physical"] == device]) == 1
    assert most_at_once(runs) == 2, runs
    summaries = sorted((two / ASCEND / "infer").glob("shard*/output*_summary.json"))
    assert len(summaries) == 4
    named = {json.loads(p.read_text())["device"] for p in summaries}
    assert named == {"npu:0", "npu:1"}
    for log in (two / "logs/synthetic/ascend").glob("infer*/shard*.log"):
        text = log.read_text()
        assert "device: npu:" in text and "of ['npu:0', 'npu:1']" in text, text
        assert "held by another job" not in text, text  # Snakemake never over-committed
    # benchmark_model measures on one device of the list and says which
    bench = json.loads((two / ASCEND / "benchmark_model.json").read_text())
    assert bench["device"] in ("npu:0", "npu:1")
    assert f"device {bench['device']}" in (two / ASCEND / "benchmark_model.html").read_text()
    # byte-identical results: raw outputs and the keypoints
    ours, theirs = raw_outputs(two / ASCEND), raw_outputs(one / ASCEND)
    assert ours and sorted(ours) == sorted(theirs)
    for name, path in ours.items():
        assert path.read_bytes() == theirs[name].read_bytes(), name
    assert ((two / ASCEND / "keypoints_results.json").read_bytes()
            == (one / ASCEND / "keypoints_results.json").read_bytes())
