"""Infer stage on the in-process backends (onnxruntime, torch): layout, summary, errors, parity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from higherhrnet.inference.engine import run_infer
from higherhrnet.inference.runner import discover_inputs, verify_outputs
from higherhrnet.errors import WorkflowError
from support.infer import export_tiny, random_inputs, sample_tensors, write_inputs

ROOT = Path(__file__).resolve().parents[3]
SHAPES = {"000000000001": (64, 96), "000000000002": (64, 96), "000000000003": (96, 64)}
STAT_KEYS = {"min", "max", "mean", "median", "percentile(99%)", "count"}


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture
def inputs(tmp_path):
    return random_inputs(tmp_path / "prep", SHAPES)


def ort_reference(onnx, x):
    import onnxruntime as ort

    return ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"]).run(
        ["output1", "output2"], {"input": x})


def test_layout_and_summary(tiny_onnx, inputs, tmp_path):
    out = tmp_path / "out"
    summary = run_infer("onnxruntime", tiny_onnx, inputs, out, "output_dir", threads=1,
                        batch_size=2, progress=False)
    for stem, (h, w) in SHAPES.items():
        o1, o2 = np.load(out / "output_dir" / f"{stem}_0.npy"), \
            np.load(out / "output_dir" / f"{stem}_1.npy")
        assert o1.shape == (1, 34, h // 4, w // 4) and o2.shape == (1, 17, h // 2, w // 2)
        assert o1.dtype == np.float32
        r1, r2 = ort_reference(tiny_onnx, np.load(inputs / f"{stem}.npy"))
        np.testing.assert_allclose(o1, r1, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(o2, r2, rtol=1e-5, atol=1e-6)
    on_disk = json.loads((out / "output_dir_summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    # ais_bench's keys and semantics
    assert set(on_disk["filesinfo"]) == {"0", "1", "2"}
    first = on_disk["filesinfo"]["0"]
    assert first["infiles"] == [str(inputs / "000000000001.npy")]
    assert first["outfiles"] == [str(out / "output_dir" / "000000000001_0.npy"),
                                 str(out / "output_dir" / "000000000001_1.npy")]
    for key in ("NPU_compute_time", "H2D_latency", "D2H_latency"):
        assert set(on_disk[key]) == STAT_KEYS
    t = on_disk["NPU_compute_time"]
    assert t["count"] == 2 == len(on_disk["npu_compute_time_list"])  # 2+1 inputs, batch 2
    assert 0 < t["min"] <= t["median"] <= t["percentile(99%)"] <= t["max"]
    assert on_disk["throughput"] == pytest.approx(1000 * 1.5 / t["mean"])
    assert on_disk["H2D_latency"]["count"] == 0  # CPU: no transfers
    assert isinstance(on_disk["args"], list) and on_disk["pid"] > 0
    # backend facts
    assert on_disk["backend"] == "onnxruntime" and on_disk["device"] == "cpu"
    assert on_disk["threads"] == 1 and on_disk["batch_size"] == 2
    assert on_disk["providers"] == ["CPUExecutionProvider"]
    assert on_disk["num_inputs"] == 3 and on_disk["sample_latency"]["count"] == 3
    assert 0 < on_disk["session_startup_s"] < 60 and on_disk["wall_time_s"] > 0


def test_batching_gives_same_outputs(tiny_onnx, inputs, tmp_path):
    run_infer("onnxruntime", tiny_onnx, inputs, tmp_path / "a", "d", batch_size=1,
              progress=False)
    run_infer("onnxruntime", tiny_onnx, inputs, tmp_path / "b", "d", batch_size=8,
              progress=False)
    for stem in SHAPES:
        for i in (0, 1):
            np.testing.assert_allclose(np.load(tmp_path / "b" / "d" / f"{stem}_{i}.npy"),
                                       np.load(tmp_path / "a" / "d" / f"{stem}_{i}.npy"),
                                       rtol=1e-5, atol=1e-5)


def run_cli(*args):
    return subprocess.run([sys.executable, "scripts/infer.py", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_cli_guide_spelling_and_log(tiny_onnx, inputs, tmp_path):
    res = run_cli("--model", tiny_onnx, "--input", inputs, "--output", tmp_path / "o",
                  "--output_dirname", "output_flip_dir", "--threads", "1",
                  "--log", tmp_path / "infer.log")
    assert res.returncode == 0, res.stderr
    assert "infer[onnxruntime]" in res.stderr and "session start-up" in res.stderr
    summary = json.loads((tmp_path / "o" / "output_flip_dir_summary.json").read_text())
    assert summary["backend"] == "onnxruntime" and summary["num_inputs"] == 3
    assert "--output_dirname" in summary["args"]
    log = (tmp_path / "infer.log").read_text()
    assert log.startswith("# command:") and "session start-up" in log


# --- errors a user can cause -------------------------------------------------------------

@pytest.mark.parametrize("array,needle", [
    (np.zeros((1, 3, 64, 64), np.float64), "dtype float64, expected float32"),
    (np.zeros((1, 3, 100, 64), np.float32), "multiples of 32"),
    (np.zeros((3, 64, 64), np.float32), "expected [1, 3, H, W]"),
    (np.zeros((2, 3, 64, 64), np.float32), "expected [1, 3, H, W]"),
])
def test_bad_input_named(tiny_onnx, tmp_path, array, needle):
    prep = random_inputs(tmp_path / "prep", {"000000000001": (64, 64)})
    np.save(prep / "000000000007.npy", array)
    res = run_cli("--model", tiny_onnx, "--input", prep, "--output", tmp_path / "o",
                  "--output-dirname", "d")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "000000000007.npy" in res.stderr and needle in res.stderr


def test_not_npy_and_empty_and_missing_folder(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.npy").write_bytes(b"not numpy")
    with pytest.raises(WorkflowError, match=r"x\.npy: not a readable \.npy"):
        discover_inputs(tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkflowError, match="no <stem>.npy"):
        discover_inputs(tmp_path / "empty")
    with pytest.raises(WorkflowError, match="does not exist"):
        discover_inputs(tmp_path / "nope")


def test_model_missing_or_not_loadable(inputs, tmp_path):
    with pytest.raises(WorkflowError, match="nope.onnx: ONNX model file not found"):
        run_infer("onnxruntime", tmp_path / "nope.onnx", inputs, tmp_path / "o", "d")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(WorkflowError, match="garbage.onnx: ONNX Runtime cannot load"):
        run_infer("onnxruntime", garbage, inputs, tmp_path / "o", "d")
    bad_pth = tmp_path / "bad.pth"
    bad_pth.write_bytes(b"not a torch file")
    with pytest.raises(WorkflowError, match="bad.pth"):
        run_infer("torch", bad_pth, inputs, tmp_path / "o", "d")


def test_gpu_asked_but_not_available(tiny_onnx, inputs, tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    with pytest.raises(WorkflowError, match="no CUDAExecutionProvider.*onnxruntime-gpu"):
        run_infer("onnxruntime", tiny_onnx, inputs, tmp_path / "o", "d", providers="cuda")
    with pytest.raises(WorkflowError, match="TensorrtExecutionProvider"):
        run_infer("onnxruntime", tiny_onnx, inputs, tmp_path / "o", "d",
                  providers="tensorrt")


def test_torch_cuda_asked_but_not_available(inputs, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(WorkflowError, match="sees no CUDA device"):
        run_infer("torch", tmp_path / "w.pth", inputs, tmp_path / "o", "d", providers="cuda")


@pytest.mark.parametrize("backend,module,needle", [
    ("onnxruntime", "onnxruntime", "pip install onnxruntime"),
    ("torch", "torch", "pip install torch"),
])
def test_backend_tool_missing(monkeypatch, tiny_onnx, inputs, tmp_path, backend, module,
                              needle):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(WorkflowError) as err:
        run_infer(backend, tiny_onnx, inputs, tmp_path / "o", "d")
    assert needle in str(err.value)
    assert "`backend:` in config.yaml" in str(err.value) and "--backend" in str(err.value)


def test_outputs_missing_or_wrong_shape_listed(inputs, tmp_path):
    items = discover_inputs(inputs)
    out = tmp_path / "o"
    (out / "d").mkdir(parents=True)
    for item in items:
        h, w = item.hw
        np.save(out / "d" / f"{item.stem}_0.npy", np.zeros((1, 34, h // 4, w // 4), np.float32))
        np.save(out / "d" / f"{item.stem}_1.npy", np.zeros((1, 17, h // 2, w // 2), np.float32))
    verify_outputs(items, out, "d")
    (out / "d" / "000000000002_1.npy").unlink()
    np.save(out / "d" / "000000000003_0.npy", np.zeros((1, 17, 24, 16), np.float32))
    with pytest.raises(WorkflowError) as err:
        verify_outputs(items, out, "d")
    msg = str(err.value)
    assert "1 output file(s) missing: 000000000002_1" in msg
    assert "000000000003_0.npy: [1, 17, 24, 16] instead of [1, 34, 24, 16]" in msg
    assert "000000000001" not in msg


def test_bad_dirname_and_batch_size(tiny_onnx, inputs, tmp_path):
    with pytest.raises(WorkflowError, match="plain folder name"):
        run_infer("onnxruntime", tiny_onnx, inputs, tmp_path, "a/b")
    with pytest.raises(WorkflowError, match="batch-size must be >= 1"):
        run_infer("onnxruntime", tiny_onnx, inputs, tmp_path, "d", batch_size=0,
                  progress=False)


# --- parity: ONNX Runtime vs PyTorch on the sample images, synthetic weights --------------

def assert_parity(tmp_path, tensors, weights, onnx, batch_size=1):
    for run, index in (("output_dir", 0), ("output_flip_dir", 1)):
        prep = write_inputs(tmp_path / f"prep_{run}",
                            {stem: pair[index] for stem, pair in tensors.items()})
        s_ort = run_infer("onnxruntime", onnx, prep, tmp_path / "ort", run, threads=2,
                          batch_size=batch_size, progress=False)
        s_pt = run_infer("torch", weights, prep, tmp_path / "torch", run, threads=2,
                         progress=False)
        assert s_ort["num_inputs"] == s_pt["num_inputs"] == len(tensors)
        assert s_pt["backend"] == "torch" and s_pt["device"] == "cpu"
        for stem in tensors:
            for i in (0, 1):
                a = np.load(tmp_path / "ort" / run / f"{stem}_{i}.npy")
                b = np.load(tmp_path / "torch" / run / f"{stem}_{i}.npy")
                assert a.shape == b.shape
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4,
                                           err_msg=f"{run}/{stem}_{i}")


def test_parity_ort_torch_small(coco_sample, synthetic_weights_path, synthetic_onnx_path,
                                tmp_path):
    tensors = sample_tensors(coco_sample, limit=3, half=True)
    assert_parity(tmp_path, tensors, synthetic_weights_path, synthetic_onnx_path, batch_size=2)


@pytest.mark.slow
def test_parity_ort_torch_all_sample_images(coco_sample, synthetic_weights_path,
                                            synthetic_onnx_path, tmp_path):
    tensors = sample_tensors(coco_sample)
    assert len(tensors) == 8
    assert_parity(tmp_path, tensors, synthetic_weights_path, synthetic_onnx_path)


def test_empty_shard_allowed_only_when_asked(tmp_path):
    """More shards than images: the workflow's empty shard gives empty outputs, no engine."""
    (tmp_path / "prep").mkdir()
    onnx = export_tiny(tmp_path / "tiny.onnx")

    def infer(model, *extra):
        cmd = [sys.executable, "scripts/infer.py", "--model", str(model),
               "--input", str(tmp_path / "prep"), "--output", str(tmp_path / "out"),
               "--output-dirname", "output_dir", *extra]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)

    res = infer(onnx)
    assert res.returncode == 2 and "no <stem>.npy input tensors" in res.stderr
    res = infer(tmp_path / "never_loaded.onnx", "--allow-empty")  # no engine is started
    assert res.returncode == 0, res.stderr
    assert list((tmp_path / "out" / "output_dir").iterdir()) == []
    summary = json.loads((tmp_path / "out" / "output_dir_summary.json").read_text())
    assert summary["num_inputs"] == 0 and summary["filesinfo"] == {}


def test_manifest_refuses_half_deleted_tensor_folder(tiny_onnx, inputs, tmp_path):
    """A temp tensor folder that a killed run left half-deleted is named, not half-inferred."""
    from higherhrnet.preprocess.manifest import Manifest, ManifestEntry

    entries = [ManifestEntry(stem, int(stem), f"{stem}.jpg", w, h, w, h, (w // 2, h // 2),
                             (w / 200, h / 200)) for stem, (h, w) in SHAPES.items()]
    manifest = tmp_path / "shard0.manifest.json"
    Manifest(entries, "ascend17").write(manifest)
    args = ("--model", tiny_onnx, "--input", inputs, "--output", tmp_path / "o",
            "--output-dirname", "output_dir", "--manifest", manifest)
    assert run_cli(*args).returncode == 0
    (inputs / "000000000002.npy").unlink()
    res = run_cli(*args)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (f"{inputs}: 1 of the 3 tensors listed in {manifest} are missing "
            "(000000000002.npy)") in res.stderr
    assert "delete it and run the workflow again" in res.stderr
    np.save(inputs / "000000000009.npy", np.zeros((1, 3, 64, 64), np.float32))
    (inputs / "000000000002.npy").symlink_to(inputs / "000000000001.npy")
    res = run_cli(*args)
    assert res.returncode == 2 and "1 tensor(s) are not listed" in res.stderr
    assert "000000000009.npy" in res.stderr
