"""ONNX export: graph interface, ONNX Runtime vs PyTorch on the 17 Ascend shapes, CLIs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from higherhrnet.model.checkpoint import load_model
from higherhrnet.errors import WorkflowError
from higherhrnet.model.network import build_model
from higherhrnet.model.export import (
    ExportMismatch,
    check_export,
    export_onnx,
    ort_session,
    parse_shapes,
)
from higherhrnet.preprocess.shapes import ASCEND_SHAPES


@pytest.fixture(scope="module")
def synthetic_model(synthetic_weights_path):
    return load_model(synthetic_weights_path)


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_graph_interface(synthetic_onnx_path):
    model = onnx.load(str(synthetic_onnx_path), load_external_data=False)
    assert {o.domain: o.version for o in model.opset_import}.get("", 11) == 11
    (inp,) = model.graph.input
    assert inp.name == "input"
    dims = _dims(inp)
    assert dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))
    assert [o.name for o in model.graph.output] == ["output1", "output2"]
    for out, channels in zip(model.graph.output, (34, 17)):
        d = _dims(out)
        assert d[1] == channels and all(isinstance(v, str) for v in (d[0], d[2], d[3]))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("ConvTranspose") == 1 and ops.count("Resize") == 28
    # No half-written leftovers beside the model.
    assert [p.name for p in synthetic_onnx_path.parent.iterdir()] == [synthetic_onnx_path.name]


def test_dynamic_batch(synthetic_onnx_path, synthetic_model):
    x = np.random.default_rng(5).standard_normal((2, 3, 256, 320)).astype(np.float32)
    got = ort_session(synthetic_onnx_path).run(None, {"input": x})
    with torch.no_grad():
        want = synthetic_model(torch.from_numpy(x))
    assert got[0].shape == (2, 34, 64, 80) and got[1].shape == (2, 17, 128, 160)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_onnx_matches_torch_on_all_ascend_shapes(synthetic_onnx_path, synthetic_model):
    report = check_export(synthetic_onnx_path, synthetic_model, ASCEND_SHAPES)
    assert report["ok"]
    assert [r["shape"] for r in report["shapes"]] == [f"{h}x{w}" for h, w in ASCEND_SHAPES]
    assert len(report["shapes"]) == 17
    for row in report["shapes"]:
        assert row["ok"] and max(row["max_abs_diff"].values()) < 1e-4


def test_check_export_detects_mismatch(synthetic_onnx_path, synthetic_model):
    other = build_model()  # untouched random init: other weights
    with pytest.raises(ExportMismatch) as err:
        check_export(synthetic_onnx_path, other, [(512, 512)])
    assert "512x512" in str(err.value)
    assert err.value.report["ok"] is False and err.value.report["shapes"][0]["ok"] is False


def test_parse_shapes():
    assert parse_shapes("ascend17") == list(ASCEND_SHAPES)
    assert parse_shapes("512x768,640X512") == [(512, 768), (640, 512)]
    for bad in ("512", "500x512", "axb"):
        with pytest.raises(WorkflowError):
            parse_shapes(bad)


def test_failed_export_leaves_nothing(tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        export_onnx(Broken(), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_export_and_check_clis(tmp_path, root, synthetic_weights_path):
    onnx_path = tmp_path / "higher_hrnet_dynamic.onnx"
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "export_onnx.py"), "--weights",
         str(synthetic_weights_path), "--onnx_path", str(onnx_path), "--opset", "17"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC UNTRAINED" in proc.stderr and " s" in proc.stderr.splitlines()[-1]
    model = onnx.load(str(onnx_path), load_external_data=False)
    assert {o.domain: o.version for o in model.opset_import}[""] == 17

    report_path = tmp_path / "check.json"
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "check_export.py"), "--weights",
         str(synthetic_weights_path), "--onnx", str(onnx_path), "--shapes", "512x576",
         "--report", str(report_path)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] and report["synthetic_weights"] is True
    assert report["shapes"][0]["shape"] == "512x576"


def test_make_synthetic_weights_cli(tmp_path, root, synthetic_weights_path):
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "make_synthetic_weights.py"), "--output",
         str(tmp_path) + "/"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC UNTRAINED" in proc.stderr
    written = tmp_path / synthetic_weights_path.name
    assert written.read_bytes() == synthetic_weights_path.read_bytes()
