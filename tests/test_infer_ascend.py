"""Ascend path against test doubles of atc / ais_bench (tests/fakes/README.md).

Proves the exact commands of the guide are issued (after sourcing CANN's set_env.sh), that
what ais_bench writes is consumed and verified, and each failure gives a clear error. Real
ATC/NPU behaviour is only covered by contract (no Ascend hardware here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from higherhrnet.backends import run_infer
from higherhrnet.backends.ascend import ais_bench_argv, atc_argv, compile_om
from higherhrnet.errors import WorkflowError
from infer_support import FAKES, calls, expect, export_tiny, random_inputs, use_fakes

ROOT = Path(__file__).resolve().parents[1]
# Copied from the guide's ATC command (REFERENCE_PIPELINE.md, "Ascend port / ATC").
GUIDE_DIMS = ("1024,512;960,512;896,512;832,512;768,512;704,512;640,512;576,512;512,512;"
              "512,576;512,640;512,704;512,768;512,832;512,896;512,960;512,1024")
SHAPES = {"000000000785": (512, 768), "000000040083": (512, 768), "000000329323": (768, 512)}


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp("tiny") / "higher_hrnet_dynamic.onnx")


@pytest.fixture
def cann(monkeypatch, tmp_path):
    return use_fakes(monkeypatch, tmp_path)


def atc_expected(onnx, prefix, *extra):
    return ["--framework=5", f"--model={onnx}", f"--output={prefix}", "--input_format=ND",
            "--input_shape=input:1,3,-1,-1", f"--dynamic_dims={GUIDE_DIMS}",
            "--soc_version=Ascend310P3", *extra]


def ais_expected(om, prep, out, name, *extra):
    return [f"--model={om}", f"--input={prep}", f"--output={out}", f"--output_dirname={name}",
            "--outfmt", "NPY", "--auto_set_dymdims_mode", "1", *extra]


def test_argv_builders_match_the_guide():
    assert atc_argv("m.onnx", "out/m", "Ascend310P3") == ["atc", *atc_expected("m.onnx", "out/m")]
    assert atc_argv("m.onnx", "m", "Ascend310P3", precision_mode="allow_fp32_to_fp16",
                    extra_args=["--log=error"])[-2:] == ["--precision_mode=allow_fp32_to_fp16",
                                                         "--log=error"]
    assert ais_bench_argv("m.om", "prep_dir", "./", "output_dir") == [
        "python3", "-m", "ais_bench", *ais_expected("m.om", "prep_dir", "./", "output_dir")]
    assert ais_bench_argv("m.om", "p", "o", "d", device=3)[-2:] == ["--device", "3"]
    with pytest.raises(WorkflowError, match="ascend17"):
        atc_argv("m.onnx", "m", "Ascend310P3", shape_policy="reference")


def compile_cli(*args):
    return subprocess.run([sys.executable, "scripts/compile_om.py", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_compile_om_cli_runs_atc_after_sourcing_cann(monkeypatch, tmp_path, cann, tiny_onnx):
    prefix = tmp_path / "model" / "higher_hrnet_dynamic"
    expect(monkeypatch, "FAKE_ATC_EXPECT",
           atc_expected(tiny_onnx, prefix, "--precision_mode=force_fp16", "--log=error"))
    res = compile_cli("--onnx", tiny_onnx, "--output", prefix, "--soc-version", "Ascend310P3",
                      "--cann-env", cann, "--precision-mode", "force_fp16",
                      "--extra-args=--log=error", "--log", tmp_path / "atc.log")
    assert res.returncode == 0, res.stderr
    om = Path(f"{prefix}.om")
    assert om.read_bytes() == f"FAKEOM {GUIDE_DIMS}\n".encode() + tiny_onnx.read_bytes()
    log = (tmp_path / "atc.log").read_text()
    assert log.startswith("# command: atc --framework=5") and "ATC run success" in log
    assert f"# environment: source {cann}" in log
    assert calls(tmp_path) == [["atc", *atc_expected(tiny_onnx, prefix, "--precision_mode="
                                                     "force_fp16", "--log=error")]]


def make_om(monkeypatch, tmp_path, cann, tiny_onnx):
    prefix = tmp_path / "higher_hrnet_dynamic"
    expect(monkeypatch, "FAKE_ATC_EXPECT", atc_expected(tiny_onnx, prefix))
    return compile_om(tiny_onnx, prefix, "Ascend310P3", tmp_path / "atc.log", cann_env=cann)


def test_two_ais_bench_runs_consumed_and_verified(monkeypatch, tmp_path, cann, tiny_onnx):
    import onnxruntime as ort

    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep_dir", SHAPES)
    flip = random_inputs(tmp_path / "prep_flip_dir", SHAPES, seed=1)
    out = tmp_path / "out"
    sess = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    for folder, name in ((prep, "output_dir"), (flip, "output_flip_dir")):
        expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, folder, out, name))
        res = subprocess.run(
            [sys.executable, "scripts/infer.py", "--backend", "ascend", "--model", om,
             "--input", folder, "--output", out, "--output_dirname", name,
             "--cann-env", cann], capture_output=True, text=True, cwd=ROOT)
        assert res.returncode == 0, res.stderr
        for stem, (h, w) in SHAPES.items():
            ref = sess.run(None, {"input": np.load(folder / f"{stem}.npy")})
            for i in (0, 1):
                got = np.load(out / name / f"{stem}_{i}.npy")
                np.testing.assert_allclose(got, ref[i], rtol=1e-6, atol=1e-6)
        summary = json.loads((out / f"{name}_summary.json").read_text())
        # ais_bench's own fields survive; ours are added
        assert summary["NPU_compute_time"]["count"] == 3
        assert summary["H2D_latency"]["mean"] == 0.5
        assert len(summary["filesinfo"]) == 3
        assert summary["backend"] == "ascend" and summary["device"] == "npu:0"
        assert summary["batch_size"] == 1 and summary["num_inputs"] == 3
        assert summary["command"][:3] == ["python3", "-m", "ais_bench"]
        log = Path(summary["log"])
        assert log == out / f"{name}.ais_bench.log" and "Performance Summary" in log.read_text()
    ais_calls = [c for c in calls(tmp_path) if c[0] == "python3 -m ais_bench"]
    assert ais_calls == [["python3 -m ais_bench", *ais_expected(om, prep, out, "output_dir")],
                         ["python3 -m ais_bench", *ais_expected(om, flip, out,
                                                                "output_flip_dir")]]


def test_device_and_log_passed(monkeypatch, tmp_path, cann, tiny_onnx):
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT",
           ais_expected(om, prep, tmp_path / "o", "d", "--device", "2"))
    s = run_infer("ascend", om, prep, tmp_path / "o", "d", device=2, cann_env=cann,
                  log=tmp_path / "logs" / "infer.log", progress=False)
    assert s["device"] == "npu:2" and (tmp_path / "logs" / "infer.log").is_file()


# --- failures ------------------------------------------------------------------------------

def test_atc_failure_shows_log_tail(monkeypatch, tmp_path, cann, tiny_onnx):
    monkeypatch.setenv("FAKE_ATC_FAIL", "1")
    with pytest.raises(WorkflowError) as err:
        make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    msg = str(err.value)
    assert "atc failed with exit status 1" in msg and str(tmp_path / "atc.log") in msg
    assert "E10001" in msg
    assert not (tmp_path / "higher_hrnet_dynamic.om").exists()


def test_atc_or_cann_missing(monkeypatch, tmp_path, tiny_onnx):
    cann = use_fakes(monkeypatch, tmp_path, path=False)  # no atc on PATH
    with pytest.raises(WorkflowError, match=r"atc: command not found after sourcing .*CANN"):
        compile_om(tiny_onnx, tmp_path / "m", "Ascend310P3", tmp_path / "atc.log",
                   cann_env=cann)
    with pytest.raises(WorkflowError, match=r"set_env\.sh: CANN environment script not found"):
        compile_om(tiny_onnx, tmp_path / "m", "Ascend310P3", tmp_path / "atc.log",
                   cann_env=tmp_path / "set_env.sh")
    with pytest.raises(WorkflowError, match="missing.onnx: ONNX model file not found"):
        compile_om(tmp_path / "missing.onnx", tmp_path / "m", "Ascend310P3",
                   tmp_path / "atc.log", cann_env=cann)


def test_ais_bench_failure_shows_log_tail(monkeypatch, tmp_path, cann, tiny_onnx):
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path / "o", "d"))
    monkeypatch.setenv("FAKE_AIS_BENCH_FAIL", "1")
    with pytest.raises(WorkflowError) as err:
        run_infer("ascend", om, prep, tmp_path / "o", "d", cann_env=cann, progress=False)
    msg = str(err.value)
    assert "ais_bench failed with exit status 1" in msg and "d.ais_bench.log" in msg
    assert "acl init failed" in msg


def test_ais_bench_missing_output_named(monkeypatch, tmp_path, cann, tiny_onnx):
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep", SHAPES)
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path / "o", "d"))
    monkeypatch.setenv("FAKE_AIS_BENCH_SKIP", "000000040083")
    with pytest.raises(WorkflowError, match=r"1 output file\(s\) missing: 000000040083_1$"):
        run_infer("ascend", om, prep, tmp_path / "o", "d", cann_env=cann, progress=False)


def test_wrong_or_missing_ais_bench_package(monkeypatch, tmp_path, tiny_onnx):
    cann = use_fakes(monkeypatch, tmp_path, pylib="wrong_pylib")
    om = tmp_path / "m.om"
    om.write_bytes(b"FAKEOM 512,512\n")
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
    with pytest.raises(WorkflowError) as err:
        run_infer("ascend", om, prep, tmp_path / "o", "d", cann_env=cann, progress=False)
    msg = str(err.value)
    assert "ais-bench-benchmark" in msg and "not the Ascend inference tool" in msg
    assert str(FAKES / "wrong_pylib" / "ais_bench") in msg
    assert "gitee.com/ascend/tools" in msg and "--backend" in msg
    use_fakes(monkeypatch, tmp_path, pylib=None)
    with pytest.raises(WorkflowError, match="no module ais_bench.*aclruntime"):
        run_infer("ascend", om, prep, tmp_path / "o", "d", cann_env=cann, progress=False)
    assert not [c for c in calls(tmp_path) if c[0] == "python3 -m ais_bench"]


def test_ascend_input_checks(monkeypatch, tmp_path, cann):
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 480)})
    with pytest.raises(WorkflowError, match=r"000000000001\.npy: input is 512x480"):
        run_infer("ascend", tmp_path / "m.om", prep, tmp_path / "o", "d", cann_env=cann)
    prep = random_inputs(tmp_path / "prep2", {"000000000001": (512, 512)})
    with pytest.raises(WorkflowError, match=r"m\.om: Ascend offline model \(\.om\) file not"):
        run_infer("ascend", tmp_path / "m.om", prep, tmp_path / "o", "d", cann_env=cann)
    with pytest.raises(WorkflowError, match="compiled for batch 1"):
        run_infer("ascend", tmp_path / "m.om", prep, tmp_path / "o", "d", batch_size=4)


def test_fakes_refuse_unexpected_argv(monkeypatch, tmp_path, cann, tiny_onnx):
    """The doubles really check: a different argv makes atc fail."""
    prefix = tmp_path / "m"
    expect(monkeypatch, "FAKE_ATC_EXPECT", atc_expected(tiny_onnx, prefix)[:-1]
           + ["--soc_version=Ascend910"])
    with pytest.raises(WorkflowError, match="exit status 3"):
        compile_om(tiny_onnx, prefix, "Ascend310P3", tmp_path / "atc.log", cann_env=cann)
    assert "unexpected arguments" in (tmp_path / "atc.log").read_text()
    assert os.access(FAKES / "bin" / "atc", os.X_OK)
