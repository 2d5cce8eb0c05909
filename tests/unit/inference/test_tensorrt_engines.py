"""The TensorRT engine artifact without a GPU: the profiles and provider options the build
and every job share, the manifest's reuse checks, the precision switches and the clear errors
when the TensorRT provider is not there (ONNX Runtime here is the CPU build).

ONNX Runtime's option names and semantics: src/higherhrnet/inference/tensorrt_engines.py
(its "TensorRT Execution Provider" page; microsoft/onnxruntime#15546 for explicit profiles).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
from support.infer import export_tiny, random_inputs

from higherhrnet.errors import WorkflowError
from higherhrnet.inference import tensorrt_engines as trt
from higherhrnet.inference.benchmark import (
    best_batch,
    measure_engine,
    parse_batch_sizes,
)
from higherhrnet.inference.engine import create_engine
from higherhrnet.preprocess.shapes import ASCEND_SHAPES

ROOT = Path(__file__).resolve().parents[3]


def test_dynamic_profile_spans_the_compiled_shapes_and_batches():
    (lo, opt, hi), = trt.profiles(ASCEND_SHAPES, 8, "dynamic")
    assert lo == (1, 3, 512, 512) and hi == (8, 3, 1024, 1024) and opt == (8, 3, 512, 512)
    for h, w in ASCEND_SHAPES:
        assert trt.covered([(lo, opt, hi)], (1, 3, h, w))
        assert trt.covered([(lo, opt, hi)], (8, 3, h, w))
    assert not trt.covered([(lo, opt, hi)], (9, 3, 512, 512))  # past the largest batch


def test_per_shape_profiles_are_the_atc_shape_set():
    profs = trt.profiles(ASCEND_SHAPES, 4, "per_shape")
    assert len(profs) == 17
    assert [p[2][2:] for p in profs] == list(ASCEND_SHAPES)
    assert all(p[0][0] == 1 and p[1][0] == p[2][0] == 4 for p in profs)
    assert not trt.covered(profs, (1, 3, 576, 576))  # between the shapes: no profile


def test_profile_options_name_the_input_once_per_profile():
    opts = trt.profile_options(trt.profiles([(512, 512), (512, 768)], 2, "per_shape"))
    assert opts == {
        "trt_profile_min_shapes": "input:1x3x512x512,input:1x3x512x768",
        "trt_profile_opt_shapes": "input:2x3x512x512,input:2x3x512x768",
        "trt_profile_max_shapes": "input:2x3x512x512,input:2x3x512x768"}


@pytest.mark.parametrize("precision, fp16", [("fp32", False), ("fp16", True)])
def test_provider_options_turn_both_caches_on_and_fp16_only_when_asked(tmp_path, precision,
                                                                        fp16):
    profs = trt.profiles([(512, 512)], 1, "dynamic")
    opts = trt.provider_options(tmp_path / "e", tmp_path / "t", precision, profs, device=1)
    assert opts["trt_engine_cache_enable"] is True and opts["trt_timing_cache_enable"] is True
    assert opts["trt_engine_cache_path"] == str(tmp_path / "e")
    assert opts["trt_timing_cache_path"] == str(tmp_path / "t")
    assert opts["trt_fp16_enable"] is fp16 and opts["device_id"] == 1
    assert opts["trt_profile_max_shapes"] == "input:1x3x512x512"
    with pytest.raises(WorkflowError, match="precision 'int8'"):
        trt.provider_options(tmp_path, tmp_path, "int8", profs)


def test_an_input_outside_the_profiles_is_one_clear_error():
    profs = trt.profiles(ASCEND_SHAPES, 1, "dynamic")
    with pytest.raises(WorkflowError, match=r"e\.json: an input of 2x3x512x512 is outside "
                                            r"the TensorRT engines' profiles"):
        trt.check_covered(profs, (2, 3, 512, 512), "e.json")


def test_engine_tag_names_the_run_configuration():
    assert trt.engine_tag("fp16", 8, "dynamic", "1") == "fp16_b8_dynamic"
    assert trt.engine_tag("fp32", 1, "per_shape", "2,1") == "fp32_b1_per_shape_s2-1"


def _manifest(folder, onnx, **over):
    """A build's manifest as build_engines writes it, with one engine file beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "TensorrtExecutionProvider_cache_sm90.engine").write_bytes(b"engine")
    m = {"format": trt.MANIFEST_FORMAT, "onnx": str(onnx), "onnx_sha256": trt.sha256(onnx),
         "precision": "fp16", "profile_mode": "dynamic", "max_batch": 2,
         "shapes": [[512, 512]],
         "profiles": [[list(d) for d in p] for p in trt.profiles([(512, 512)], 2, "dynamic")],
         "engine_files": {"TensorrtExecutionProvider_cache_sm90.engine": 6},
         "deviation_from_cpu_max": {"output1": 1e-3, "output2": 2e-3}}
    m.update(over)
    path = folder / trt.MANIFEST_NAME
    path.write_text(json.dumps(m))
    return path


def test_manifest_is_reused_for_the_same_model_and_precision(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    path = _manifest(tmp_path / "results/model/tensorrt_fp16_b2_dynamic", onnx)
    m = trt.read_manifest(path, onnx, "fp16")
    opts = trt.session_options(path, m, device=0)
    # the job's options are the build's: the same profiles, caches where the manifest is now
    assert opts["trt_engine_cache_path"] == str(path.resolve().parent)
    assert opts["trt_timing_cache_path"] == str(
        (tmp_path / "results/model/tensorrt_timing_cache").resolve())
    assert opts["trt_fp16_enable"] is True
    assert opts["trt_profile_max_shapes"] == "input:2x3x512x512"


def test_manifest_of_another_model_precision_or_lost_engines_is_refused(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    other = tmp_path / "other.onnx"
    other.write_bytes(onnx.read_bytes() + b"\0")
    path = _manifest(tmp_path / "e", onnx)
    with pytest.raises(WorkflowError, match="built from another ONNX model"):
        trt.read_manifest(path, other, "fp16")
    with pytest.raises(WorkflowError, match="the engines are fp16, this run asks for fp32"):
        trt.read_manifest(path, onnx, "fp32")
    (tmp_path / "e" / "TensorrtExecutionProvider_cache_sm90.engine").unlink()
    with pytest.raises(WorkflowError, match="1 engine file"):
        trt.read_manifest(path, onnx, "fp16")
    with pytest.raises(WorkflowError, match="no TensorRT engines manifest"):
        trt.read_manifest(tmp_path / "none" / "engines.json", onnx)
    bad = _manifest(tmp_path / "f", onnx, format=0)
    with pytest.raises(WorkflowError, match="format 0, expected 1"):
        trt.read_manifest(bad, onnx)


def test_cache_files_tell_a_load_from_a_rebuild(tmp_path):
    (tmp_path / "a.engine").write_bytes(b"1")
    (tmp_path / trt.MANIFEST_NAME).write_text("{}")
    before = trt.cache_files(tmp_path)
    assert list(before) == ["a.engine"]  # not the manifest
    assert trt.changed_files(before, trt.cache_files(tmp_path)) == []
    (tmp_path / "a.engine").write_bytes(b"22")
    (tmp_path / "b.profile").write_bytes(b"p")
    assert trt.changed_files(before, trt.cache_files(tmp_path)) == ["a.engine", "b.profile"]
    assert trt.cache_files(None) == {} and trt.cache_files(tmp_path / "none") == {}


def test_max_abs_deviation_per_output():
    a = (np.zeros((1, 2)), np.ones((1, 2)))
    b = (np.full((1, 2), 0.5), np.ones((1, 2)) * 0.75)
    assert trt.max_abs_deviation(a, b) == {"output1": 0.5, "output2": 0.25}


def _cli(script, *args):
    return subprocess.run([sys.executable, f"scripts/{script}", *map(str, args)],
                          check=False, capture_output=True, text=True, cwd=ROOT)


def _error_line(res):
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    return lines[0]


def test_build_cli_without_the_tensorrt_provider_says_what_to_install(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    out = tmp_path / "tensorrt_fp32_b1_dynamic" / "engines.json"
    line = _error_line(_cli("build_trt_engines.py", "--onnx", onnx, "--output", out))
    assert "no TensorrtExecutionProvider" in line and "onnxruntime-gpu" in line
    assert not out.exists()  # no manifest: the rule's output is missing, the job failed
    line = _error_line(_cli("build_trt_engines.py", "--onnx", onnx, "--output",
                            tmp_path / "x.json"))
    assert "name it engines.json" in line


def test_infer_cli_refuses_fp16_and_engines_on_the_cpu_provider(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    inputs = random_inputs(tmp_path / "in", {"a": (64, 64)})
    base = ["--model", onnx, "--input", inputs, "--output", tmp_path / "out",
            "--output-dirname", "output_dir"]
    line = _error_line(_cli("infer.py", *base, "--precision", "fp16"))
    assert "--precision fp16 and --trt-engines are the tensorrt provider's" in line
    line = _error_line(_cli("infer.py", *base, "--trt-engines", tmp_path / "engines.json"))
    assert "tensorrt provider's" in line
    line = _error_line(_cli("infer.py", *base, "--backend", "torch", "--precision", "fp16"))
    assert "fp16 (autocast) on CUDA only" in line


def test_infer_cli_checks_the_engines_before_any_gpu_library(tmp_path):
    """A job handed engines built from another model stops with the manifest's error (here,
    where ONNX Runtime has no TensorRT provider, that check comes first)."""
    onnx = export_tiny(tmp_path / "tiny.onnx")
    other = tmp_path / "other.onnx"
    other.write_bytes(onnx.read_bytes() + b"\0")
    manifest = _manifest(tmp_path / "e", other)
    inputs = random_inputs(tmp_path / "in", {"a": (64, 64)})
    line = _error_line(_cli("infer.py", "--model", onnx, "--input", inputs, "--output",
                            tmp_path / "out", "--output-dirname", "output_dir", "--providers",
                            "tensorrt", "--precision", "fp16", "--trt-engines", manifest))
    assert f"{manifest}: the engines were built from another ONNX model" in line
    # the same engines with their own model: on to the provider, which is missing here
    line = _error_line(_cli("infer.py", "--model", other, "--input", inputs, "--output",
                            tmp_path / "out", "--output-dirname", "output_dir", "--providers",
                            "tensorrt", "--precision", "fp16", "--trt-engines", manifest))
    assert "no TensorrtExecutionProvider" in line


def test_benchmark_measures_each_batch_size_and_names_the_best(tmp_path):
    engine = create_engine("onnxruntime", export_tiny(tmp_path / "tiny.onnx"), threads=1)
    rows = measure_engine(engine, [(64, 64)], loops=2, warmup=1, batch_sizes=[4, 1])
    assert [(r["batch"], r["count"]) for r in rows] == [(1, 2), (4, 2)]
    for r in rows:
        assert r["throughput"] == pytest.approx(1000 * r["batch"] / r["latency_mean_ms"])
    best = best_batch(rows)["64x64"]
    assert best["throughput"] == max(r["throughput"] for r in rows)
    assert parse_batch_sizes("1,8,32") == [1, 8, 32]
    with pytest.raises(WorkflowError, match="--batch-sizes '0'"):
        parse_batch_sizes("0")


def test_benchmark_cli_reports_the_t4_and_310p3_figures_and_batches(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    res = _cli("benchmark_model.py", "--backend", "onnxruntime", "--model", onnx, "--shapes",
               "64x64", "--loops", "2", "--warmup", "1", "--threads", "1", "--batch-sizes",
               "1,2", "--output", tmp_path / "b.json", "--html", tmp_path / "b.html")
    assert res.returncode == 0, res.stderr
    result = json.loads((tmp_path / "b.json").read_text())
    assert [r["batch"] for r in result["shapes"]] == [1, 2]
    assert result["guide_t4_fps"] == 27.0 and result["precision"] == "fp32"
    assert set(result["best_batch"]) == {"64x64"}
    page = (tmp_path / "b.html").read_text()
    assert "185.28" in page and "trtexec --fp16" in page and "<th>batch</th>" in page


def test_gpu_extra_is_pinned_and_the_cpu_install_stays_without_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    gpu = project["optional-dependencies"]["gpu"]
    names = {req.split("==")[0] for req in gpu}
    assert {"onnxruntime-gpu", "torch"} <= names and any(n.startswith("tensorrt") for n in names)
    assert all("==" in req for req in gpu), gpu  # pinned: the TensorRT EP needs its pair
    deps = " ".join(project["dependencies"])
    assert "onnxruntime-gpu" not in deps and "tensorrt" not in deps
