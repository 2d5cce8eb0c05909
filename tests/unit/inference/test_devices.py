"""Every accelerator of the node (issue 23): the device list, the choice of a free device (a
pure function) and the claim (an flock the kernel releases when its process dies); the infer
stage CLI on two NPUs through the ais_bench double (tests/fakes/README.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.infer import expect, random_inputs, use_fakes

from higherhrnet.errors import WorkflowError
from higherhrnet.inference.devices import (
    Device,
    choose,
    claim,
    device_kind,
    job_devices,
    parse_list,
    parse_visible,
)

ROOT = Path(__file__).resolve().parents[3]


def npus(*indices, visible=None):
    return [Device("npu", i, visible.split(",")[i] if visible else str(i), visible or "")
            for i in indices]


def test_parse_list_and_visible_lists():
    assert parse_list("0,1") == [0, 1] and parse_list("3") == [3]
    for bad in ("", "0,,1", "a", "0,0", "-1"):
        with pytest.raises(WorkflowError, match="--devices"):
            parse_list(bad)
    assert parse_visible("npu", None) is None and parse_visible("npu", "") is None
    assert parse_visible("npu", "1,3") == ["1", "3"]
    # facts, "Devices of a node": the runtime stops at the first bad character (`1, 2,3` is
    # `1`) and wants ascending ids: refused rather than half-read
    for bad in ("1, 2,3", "3,1", "1,1", "0,x"):
        with pytest.raises(WorkflowError, match="ASCEND_RT_VISIBLE_DEVICES"):
            parse_visible("npu", bad)
    assert parse_visible("gpu", "GPU-8f3a-01,2") == ["GPU-8f3a-01", "2"]
    with pytest.raises(WorkflowError, match="CUDA_VISIBLE_DEVICES"):
        parse_visible("gpu", "0, 1")


def test_device_kind_of_backends():
    assert device_kind(True, "cpu") == "npu"
    assert device_kind(False, "cuda") == device_kind(False, "tensorrt") == "gpu"
    assert device_kind(False, "cpu") is None


def test_job_devices_local_and_in_a_cluster_job():
    assert [d.label for d in job_devices("npu", [0, 1], {})] == ["npu:0", "npu:1"]
    local = job_devices("npu", [1], {"ASCEND_RT_VISIBLE_DEVICES": "4,5"})
    assert [(d.index, d.physical) for d in local] == [(1, "5")]
    assert local[0].label == "npu:1 (physical 5 of ASCEND_RT_VISIBLE_DEVICES=4,5)"
    with pytest.raises(WorkflowError, match=r"device 2 .*gives this job 2 device"):
        job_devices("npu", [0, 2], {"ASCEND_RT_VISIBLE_DEVICES": "4,5"})
    # a cluster job: the scheduler's allocation is the list, whatever the config says
    job = {"ASCEND_RT_VISIBLE_DEVICES": "6,7", "HHRNET_DEVICES_FROM_ALLOCATION": "1"}
    assert [(d.index, d.physical) for d in job_devices("npu", [0], job)] == [(0, "6"), (1, "7")]
    # ... unless it sets no list (a count-only GRES): the config's
    assert [d.index for d in job_devices("npu", [1], {"HHRNET_DEVICES_FROM_ALLOCATION": "1"})
            ] == [1]
    gpu = job_devices("gpu", [0], {"CUDA_VISIBLE_DEVICES": "GPU-ab12"})
    assert gpu[0].label == "gpu:0 (physical GPU-ab12 of CUDA_VISIBLE_DEVICES=GPU-ab12)"


def test_choose_takes_the_free_device_used_least_recently():
    a, b, c = npus(0, 1, 2)
    assert choose([a, b, c], set(), {}) == a  # none used yet: list order
    assert choose([a, b, c], set(), {a.key: 10.0}) == b
    assert choose([a, b, c], set(), {a.key: 10.0, b.key: 5.0, c.key: 7.0}) == b
    assert choose([a, b, c], {b.key}, {a.key: 10.0, b.key: 5.0, c.key: 7.0}) == c
    assert choose([a, b], {a.key, b.key}, {}) is None
    # two jobs of one node on different allocations hold different locks for logical 0
    assert npus(0, visible="4")[0].key != npus(0, visible="5")[0].key


def test_claims_of_one_list_never_share_a_device_and_spread_over_it(tmp_path):
    devices = npus(0, 1)
    with claim(devices, tmp_path) as first, claim(devices, tmp_path) as second:
        assert {first.index, second.index} == {0, 1}
    # the next ones take the device used least recently: consecutive jobs alternate
    with claim(devices, tmp_path) as third:
        pass
    with claim(devices, tmp_path) as fourth:
        pass
    assert (third.index, fourth.index) == (first.index, second.index)


HOLD = """
import sys, time
sys.path.insert(0, {src!r})
from higherhrnet.inference.devices import Device, claim
with claim([Device("npu", 0, "0")], {locks!r}):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_leaves_its_device_free(tmp_path):
    """kill -9 of a process holding a device: the kernel drops its flock, the next claim takes
    the device at once (the lock file itself stays, and does not count)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(src=str(ROOT / "src"),
                                                              locks=str(tmp_path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "claim.log"
    try:
        assert proc.stdout.readline().strip() == "held"
        # while it lives, the device is taken: a claim of it waits (cut off after 1.5 s)
        with open(log, "w") as fh, pytest.raises(TimeoutError), _deadline(1.5):
            with claim([Device("npu", 0, "0")], tmp_path, poll_s=0.1, log=fh):
                pass
        assert "held by another job" in log.read_text()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        t0 = time.time()
        with claim([Device("npu", 0, "0")], tmp_path, poll_s=0.1, log=sys.stderr) as d:
            assert d.index == 0 and time.time() - t0 < 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(tmp_path.glob("*.lock"))


class _deadline:
    """TimeoutError in the main thread after ``seconds`` (SIGALRM)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        def alarm(*_):
            raise TimeoutError
        self.old = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)
        return False


# --- the infer stage CLI on two NPUs, through the ais_bench double --------------------------

@pytest.fixture
def ascend(monkeypatch, tmp_path, tiny_onnx):
    """The doubles on PATH, an .om as the fake atc writes it (512x512 only), one tensor."""
    cann = use_fakes(monkeypatch, tmp_path)
    om = tmp_path / "m.om"
    om.write_bytes(b"FAKEOM 512,512\n" + tiny_onnx.read_bytes())
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
    monkeypatch.setenv("FAKE_NPU_STATE", str(tmp_path / "npu_state"))
    return cann, om, prep


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    from support.infer import export_tiny

    return export_tiny(tmp_path_factory.mktemp("tiny") / "higher_hrnet_dynamic.onnx")


def infer_cli(cann, om, prep, out, *extra, wait=True):
    cmd = [sys.executable, "scripts/infer.py", "--backend", "ascend", "--model", str(om),
           "--input", str(prep), "--output", str(out), "--output-dirname", "d",
           "--cann-env", str(cann), "--log", str(out) + ".log", *extra]
    if wait:
        return subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT,
                              timeout=120)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True)


def ais(om, prep, out, device):
    return [f"--model={om}", f"--input={prep}", f"--output={out}", "--output_dirname=d",
            "--outfmt", "NPY", "--auto_set_dymdims_mode", "1", "--device", str(device)]


def runs(tmp_path):
    path = tmp_path / "npu_state" / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_infer_cli_takes_the_free_npu_and_names_it(monkeypatch, tmp_path, ascend):
    """--devices 0,1 with device 0 held by another job: the stage runs ais_bench on 1, and its
    summary and stage log (stderr) say so."""
    cann, om, prep = ascend
    out = tmp_path / "o"
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", [ais(om, prep, out, 0), ais(om, prep, out, 1)])
    with claim(npus(0), tmp_path / "device_locks", log=open(os.devnull, "w")):
        res = infer_cli(cann, om, prep, out, "--devices", "0,1")
    assert res.returncode == 0, res.stderr
    assert "device: npu:1 of ['npu:0', 'npu:1']" in res.stderr
    assert json.loads((out / "d_summary.json").read_text())["device"] == "npu:1"
    assert [r["device"] for r in runs(tmp_path)] == [1]


def test_two_jobs_on_one_device_are_caught_by_the_double(monkeypatch, tmp_path, ascend):
    """The double's test contract: a device another running process holds is refused."""
    cann, om, prep = ascend
    monkeypatch.setenv("FAKE_AIS_BENCH_HOLD_S", "30")
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", [ais(om, prep, tmp_path / o, 0)
                                                  for o in ("a", "b")])
    # the second run uses other locks, as a workflow without the claim would
    first = infer_cli(cann, om, prep, tmp_path / "a", "--devices", "0", wait=False)
    try:
        deadline = time.time() + 60
        while not (tmp_path / "npu_state" / "npu0.lock").exists() and time.time() < deadline:
            time.sleep(0.2)
        monkeypatch.setenv("HHRNET_DEVICE_LOCKS", str(tmp_path / "other_locks"))
        second = infer_cli(cann, om, prep, tmp_path / "b", "--devices", "0")
        assert second.returncode == 2
        assert "held by another running process" in (tmp_path / "b.log").read_text()
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_a_killed_inference_job_does_not_keep_its_npu(monkeypatch, tmp_path, ascend):
    """kill -9 of an infer job (its process group: stage and ais_bench) while it holds npu:0;
    the next job with --devices 0 runs on npu:0 at once."""
    cann, om, prep = ascend
    monkeypatch.setenv("FAKE_AIS_BENCH_HOLD_S", "30")
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", [ais(om, prep, tmp_path / o, 0)
                                                  for o in ("a", "b")])
    job = infer_cli(cann, om, prep, tmp_path / "a", "--devices", "0", wait=False)
    deadline = time.time() + 60
    while not (tmp_path / "npu_state" / "npu0.lock").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert (tmp_path / "device_locks").is_dir() and not runs(tmp_path)
    monkeypatch.setenv("FAKE_AIS_BENCH_HOLD_S", "0")
    t0 = time.time()
    res = infer_cli(cann, om, prep, tmp_path / "b", "--devices", "0")
    assert res.returncode == 0, res.stderr
    assert "waiting" not in res.stderr and time.time() - t0 < 60
    assert [r["device"] for r in runs(tmp_path)] == [0]


def test_the_device_stays_taken_while_the_tool_of_a_killed_job_runs(monkeypatch, tmp_path,
                                                                  ascend):
    """kill -9 of the stage process alone: ais_bench, which it started on npu:0, still runs
    there; it holds the lock it inherited, so no other job takes npu:0 until it ends."""
    cann, om, prep = ascend
    monkeypatch.setenv("FAKE_AIS_BENCH_HOLD_S", "6")
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais(om, prep, tmp_path / "a", 0))
    job = infer_cli(cann, om, prep, tmp_path / "a", "--devices", "0", wait=False)
    try:
        deadline = time.time() + 60
        while not (tmp_path / "npu_state" / "npu0.lock").exists() and time.time() < deadline:
            time.sleep(0.2)
        os.kill(job.pid, signal.SIGKILL)  # the stage only; its ais_bench runs on
        job.wait()
        log = tmp_path / "claim.log"
        with open(log, "w") as fh, claim(npus(0), tmp_path / "device_locks", poll_s=0.2,
                                         log=fh):
            pass
        assert "held by another job" in log.read_text()
        # taken only after ais_bench had finished with the device
        assert [r["device"] for r in runs(tmp_path)] == [0]
    finally:
        os.killpg(job.pid, signal.SIGKILL)


def test_infer_cli_claims_a_gpu_of_the_list(tmp_path, monkeypatch, tiny_onnx):
    """--providers cuda --devices 0,1 with gpu:0 held: the stage takes gpu:1 (and here, with no
    CUDA, stops at ONNX Runtime's provider check, naming it)."""
    monkeypatch.setenv("HHRNET_DEVICE_LOCKS", str(tmp_path / "locks"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
    gpus = [Device("gpu", i, str(i)) for i in (0, 1)]
    with claim(gpus[:1], tmp_path / "locks", log=open(os.devnull, "w")):
        res = subprocess.run(
            [sys.executable, "scripts/infer.py", "--model", str(tiny_onnx), "--input",
             str(prep), "--output", str(tmp_path / "o"), "--output-dirname", "d",
             "--providers", "cuda", "--devices", "0,1"],
            check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "device: gpu:1 of ['gpu:0', 'gpu:1']" in res.stderr, res.stderr
    if res.returncode != 0:  # no CUDA here
        assert "CUDAExecutionProvider" in res.stderr
