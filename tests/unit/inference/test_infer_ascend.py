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

from higherhrnet.inference.engine import run_infer
from higherhrnet.inference.ascend.cann import cann_python_warning
from higherhrnet.inference.ascend.compile import aoe_argv, atc_argv, compile_om, tune_om
from higherhrnet.inference.ascend.run import ais_bench_argv, resolve_device
from higherhrnet.errors import WorkflowError
from support.infer import FAKES, calls, expect, export_tiny, random_inputs, use_fakes

ROOT = Path(__file__).resolve().parents[3]
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
        assert summary["H2D_latency"]["count"] == 0 and summary["D2H_latency"]["mean"] == 0.0
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


# --- the real tools' behaviour (../shared/ASCEND_TOOLS.md), issue 11 -------------------------

def fake_ais_bench(*args, cwd=None):
    """The ais_bench double run directly (no checks of ours in between)."""
    env = {**os.environ, "FAKE_CANN_SOURCED": "1"}  # as after sourcing the fake set_env.sh
    return subprocess.run([sys.executable, "-m", "ais_bench", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env)


def test_suffixed_om_is_renamed_to_the_rules_output(monkeypatch, tmp_path, cann, tiny_onnx):
    """ATC may write <prefix>_linux_aarch64.om; before the fix compile_om stopped with
    'atc exited 0 but ... .om was not written'."""
    monkeypatch.setenv("FAKE_OM_OS_ARCH", "linux_aarch64")
    prefix = tmp_path / "higher_hrnet_dynamic"
    stale = tmp_path / "higher_hrnet_dynamic_linux_x86_64.om"
    stale.write_bytes(b"old")  # an earlier compile's model must not be mistaken for this one
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    assert om == Path(f"{prefix}.om") and om.read_bytes().startswith(b"FAKEOM ")
    assert sorted(p.name for p in tmp_path.glob("*.om")) == ["higher_hrnet_dynamic.om"]
    # the double really writes the suffixed name (what the old code missed)
    expect(monkeypatch, "FAKE_ATC_EXPECT", atc_expected(tiny_onnx, tmp_path / "x"))
    res = subprocess.run(["bash", "-c", 'source "$0"; exec "$@"', cann,
                          *atc_argv(tiny_onnx, tmp_path / "x", "Ascend310P3")],
                         capture_output=True, text=True)
    assert res.returncode == 0 and (tmp_path / "x_linux_aarch64.om").is_file()
    assert not (tmp_path / "x.om").exists()


def test_no_om_written_is_named(monkeypatch, tmp_path, cann, tiny_onnx):
    monkeypatch.setenv("FAKE_OM_OS_ARCH", "linux_aarch64")
    expect(monkeypatch, "FAKE_ATC_EXPECT", atc_expected(tiny_onnx, tmp_path / "m"))
    monkeypatch.setattr("higherhrnet.inference.ascend.compile._suffixed_om", lambda prefix: [])
    with pytest.raises(WorkflowError, match=r"neither .*m\.om nor .*m_<os>_<arch>\.om"):
        compile_om(tiny_onnx, tmp_path / "m", "Ascend310P3", tmp_path / "atc.log",
                   cann_env=cann)


def test_umask_002_paths_are_made_acceptable(monkeypatch, tmp_path, cann, tiny_onnx):
    """Under umask 002 tensors and folders are group-writable, which ais_bench refuses."""
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    old = os.umask(0o002)
    try:
        prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
        (tmp_path / "o").mkdir()
        assert (prep / "000000000001.npy").stat().st_mode & 0o020
        expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path / "o", "d"))
        # the double refuses it as the real tool does (what every job met before the fix)
        res = fake_ais_bench(*ais_expected(om, prep, tmp_path / "o", "d"))
        assert res.returncode == 2 and "group writable" in res.stdout, res.stdout + res.stderr
        s = run_infer("ascend", om, prep, tmp_path / "o", "d", cann_env=cann, progress=False)
    finally:
        os.umask(old)
    assert s["num_inputs"] == 1
    for p in (prep, prep / "000000000001.npy", om):
        assert p.stat().st_mode & 0o022 == 0, p


def test_symlink_and_bad_characters_refused_before_the_job(monkeypatch, tmp_path, cann,
                                                           tiny_onnx):
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    real = random_inputs(tmp_path / "real", {"000000000001": (512, 512)})
    (tmp_path / "linked").symlink_to(real)
    with pytest.raises(WorkflowError) as err:
        run_infer("ascend", om, tmp_path / "linked", tmp_path / "o", "d", cann_env=cann,
                  progress=False)
    msg = str(err.value)
    assert f"{tmp_path / 'linked'}: is a symbolic link" in msg and "mode at most 0o755" in msg
    spaced = random_inputs(tmp_path / "my data", {"000000000001": (512, 512)})
    with pytest.raises(WorkflowError, match=r"my data: contains ' ', outside \[A-Za-z0-9_\./-\]"):
        run_infer("ascend", om, spaced, tmp_path / "o", "d", cann_env=cann, progress=False)
    assert not [c for c in calls(tmp_path) if c[0] == "python3 -m ais_bench"]
    # the double refuses both too
    for folder in (tmp_path / "linked", spaced):
        expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, folder, tmp_path, "d"))
        res = fake_ais_bench(*ais_expected(om, folder, tmp_path, "d"))
        assert res.returncode == 2 and "is illegal" in res.stderr


def test_double_takes_npy_and_bin_in_natural_order(monkeypatch, tmp_path, cann, tiny_onnx):
    """Before: every file of --input in lexical order. Real: *.npy|*.NPY|*.bin|*.BIN, natural
    order. Our side refuses a folder with files ais_bench would run but we would not check."""
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep", {"2": (512, 512), "10": (512, 512)})
    (prep / "notes.txt").write_text("not a tensor")
    os.chmod(prep / "notes.txt", 0o644)
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path / "o", "d"))
    (tmp_path / "o").mkdir()
    res = fake_ais_bench(*ais_expected(om, prep, tmp_path / "o", "d"))
    assert res.returncode == 0, res.stdout + res.stderr
    info = json.loads((tmp_path / "o" / "d_summary.json").read_text())
    assert [Path(v["infiles"][0]).name for v in info["filesinfo"].values()] == ["2.npy",
                                                                                  "10.npy"]
    (prep / "extra.bin").write_bytes(np.zeros(3, np.float32).tobytes())
    with pytest.raises(WorkflowError, match=r"prep: ais_bench would also run 1 file\(s\) .*"
                                            r"extra\.bin"):
        run_infer("ascend", om, prep, tmp_path / "o", "d", cann_env=cann, progress=False)


def test_double_fails_on_dims_mismatch_like_ais_bench(monkeypatch, tmp_path, cann, tiny_onnx):
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 480)})
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path, "d"))
    res = fake_ais_bench(*ais_expected(om, prep, tmp_path, "d"))
    assert res.returncode == 1 and "the dynamic_dims parameter is not correct" in res.stdout
    assert "Traceback" in res.stdout


def test_wrong_package_cannot_run_as_module(monkeypatch, tmp_path):
    use_fakes(monkeypatch, tmp_path, pylib="wrong_pylib")
    res = fake_ais_bench("--model", "m.om")
    assert res.returncode == 1 and "cannot be directly executed" in res.stderr


def test_device_is_a_logical_index_within_visible_devices(monkeypatch, tmp_path, cann,
                                                          tiny_onnx):
    assert resolve_device(1, {}) == (1, "npu:1")
    assert resolve_device(1, {"ASCEND_RT_VISIBLE_DEVICES": "4,5"}) == (
        1, "npu:1 (physical 5 of ASCEND_RT_VISIBLE_DEVICES=4,5)")
    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    prep = random_inputs(tmp_path / "prep", {"000000000001": (512, 512)})
    monkeypatch.setenv("ASCEND_RT_VISIBLE_DEVICES", "6")
    with pytest.raises(WorkflowError, match=r"--device 1: a logical index .*gives this job 1 "):
        run_infer("ascend", om, prep, tmp_path / "o", "d", device=1, cann_env=cann,
                  progress=False)
    # the double fails a device outside the allocation, as the runtime would
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path, "d", "--device",
                                                              "1"))
    res = fake_ais_bench(*ais_expected(om, prep, tmp_path, "d", "--device", "1"))
    assert res.returncode == 1 and "set_device" in res.stdout
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", ais_expected(om, prep, tmp_path / "o", "d",
                                                              "--device", "0"))
    s = run_infer("ascend", om, prep, tmp_path / "o", "d", device=0, cann_env=cann,
                  progress=False)
    assert s["device"] == "npu:0 (physical 6 of ASCEND_RT_VISIBLE_DEVICES=6)"


def aoe_expected(onnx, prefix, job_type):
    return ["--framework=5", f"--model={onnx}", f"--job_type={job_type}", "--input_format=ND",
            "--input_shape=input:1,3,-1,-1", f"--dynamic_dims={GUIDE_DIMS}",
            f"--output={prefix}"]


def test_aoe_both_tunes_subgraphs_then_operators(monkeypatch, tmp_path, cann, tiny_onnx):
    monkeypatch.setenv("FAKE_OM_OS_ARCH", "linux_aarch64")
    prefix = tmp_path / "tuned"
    assert aoe_argv(tiny_onnx, prefix, 1) == ["aoe", *aoe_expected(tiny_onnx, prefix, 1)]
    expect(monkeypatch, "FAKE_AOE_EXPECT", [aoe_expected(tiny_onnx, prefix, 1),
                                            aoe_expected(tiny_onnx, prefix, 2)])
    om, times = tune_om(tiny_onnx, prefix, "both", tmp_path / "tune.log", cann_env=cann)
    assert om == tmp_path / "tuned.om" and list(times) == ["subgraph", "operator"]
    assert om.read_bytes().split(b"\n", 1)[0].endswith(b"aoe_job_type=2")
    assert [c[0] for c in calls(tmp_path)] == ["aoe", "aoe"]
    assert "AOE subgraph tuning" in (tmp_path / "tune.subgraph.log").read_text()
    monkeypatch.setenv("FAKE_AOE_FAIL", "1")
    with pytest.raises(WorkflowError, match="aoe subgraph tuning failed with exit status 1"):
        tune_om(tiny_onnx, prefix, "subgraph", tmp_path / "tune.log", cann_env=cann)
    assert not om.exists()


def test_ais_bench_loop_benchmark(monkeypatch, tmp_path, cann, tiny_onnx):
    from higherhrnet.inference.benchmark import benchmark, table_html

    om = make_om(monkeypatch, tmp_path, cann, tiny_onnx)
    work = tmp_path / "bench"
    expect(monkeypatch, "FAKE_AIS_BENCH_EXPECT", [
        ais_expected(om, work / f"{h}x{w}" / "input", work / f"{h}x{w}", "output") +
        ["--loop", "3", "--warmup_count", "1"] for h, w in ((512, 512), (768, 512))])
    result = benchmark("ascend", om, [(512, 512), (768, 512)], 3, 1, work, cann_env=cann)
    assert [(r["height"], r["width"], r["count"]) for r in result["shapes"]] == [
        (512, 512, 3), (768, 512, 3)]
    assert all(r["throughput"] == pytest.approx(1000 / r["latency_mean_ms"])
               for r in result["shapes"])
    assert "185.28" in table_html(result)


def test_numpy_2_under_atc_is_warned(monkeypatch, tmp_path, cann):
    """ATC's operator compilation runs python3 from PATH; CANN needs numpy < 2 there. Here
    python3 is the test interpreter (numpy 2, requirements.txt)."""
    import numpy

    msg = cann_python_warning(cann)
    assert f"numpy {numpy.__version__}" in msg and "numpy < 2" in msg
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho 1.26.4 3 11\n")
    (fake / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    assert cann_python_warning(cann) == ""
