"""Issue 23 on a cluster: a job's devices are the scheduler's allocation, whatever the config's
list says. The synthetic workflow with backend ascend through profiles/donau and the Donau
stand-in (tests/fakes/donau), with the Ascend doubles (tests/fakes/README.md); every job sees
ASCEND_RT_VISIBLE_DEVICES=5, as a job Donau gave physical NPU 5 would (the stand-in sets no
device variable of its own)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from test_donau_profile import PYTHON_SHIM, Donau, run_workflow

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "tests" / "fakes"
ASCEND = "results/synthetic/ascend"
OM = "results/model/higher_hrnet_dynamic_Ascend310P3.om"
DIMS = ("1024,512;960,512;896,512;832,512;768,512;704,512;640,512;576,512;512,512;512,576;"
        "512,640;512,704;512,768;512,832;512,896;512,960;512,1024")


@pytest.mark.workflow
@pytest.mark.slow
def test_a_cluster_job_runs_on_its_allocation(tmp_path):
    cluster = Donau(tmp_path)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python").write_text(PYTHON_SHIM.format(python=sys.executable))
    (shim / "python").chmod(0o755)
    ais_bench = [[f"--model={OM}", f"--input=results/synthetic/{prep}/shard{k}/{prep}_dir",
                  f"--output={ASCEND}/infer/shard{k}", f"--output_dirname={name}", "--outfmt",
                  "NPY", "--auto_set_dymdims_mode", "1", "--device", "0"]
                 for k in (0, 1) for prep, name in (("prep", "output_dir"),
                                                    ("prep_flip", "output_flip_dir"))]
    cluster.env.update(
        PATH=os.pathsep.join([str(shim), str(FAKES / "bin"), cluster.env["PATH"]]),
        PYTHONPATH=str(FAKES / "pylib"), FAKE_PYTHON=sys.executable,
        FAKE_NPU_STATE=str(tmp_path / "npu_state"), ASCEND_RT_VISIBLE_DEVICES="5",
        FAKE_ATC_EXPECT=json.dumps([
            "--framework=5", "--model=results/model/higher_hrnet_dynamic.onnx",
            "--output=results/model/higher_hrnet_dynamic_Ascend310P3", "--input_format=ND",
            "--input_shape=input:1,3,-1,-1", f"--dynamic_dims={DIMS}",
            "--soc_version=Ascend310P3"]),
        FAKE_AIS_BENCH_EXPECT=json.dumps(ais_bench))
    cluster.env.pop("HHRNET_DEVICE_LOCKS", None)
    # the config's list names NPU 1 of a local run, which this job's allocation lacks: a
    # local run with this variable set would stop (index outside the list)
    cann = FAKES / "cann" / "set_env.sh"
    rc, log = run_workflow(cluster, "--config", "backend=ascend",
                           f"ascend={{cann_env: {cann}, devices: [1]}}")
    assert rc == 0, log[-4000:]
    assert any(j["name"] == "smk_infer" and "npu=1" in " ".join(j["argv"])
               for j in cluster.jobs())  # each inference job asked Donau for one NPU
    summaries = sorted((cluster.work / ASCEND / "infer").glob("shard*/output*_summary.json"))
    assert len(summaries) == 4
    for path in summaries:
        assert json.loads(path.read_text())["device"] == (
            "npu:0 (physical 5 of ASCEND_RT_VISIBLE_DEVICES=5)")
    runs = [json.loads(line) for line in (tmp_path / "npu_state" / "runs.jsonl").read_text()
            .splitlines()]
    assert len(runs) == 4 and {r["physical"] for r in runs} == {"5"}
