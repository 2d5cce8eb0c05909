"""benchmark_model's measurement and table on ONNX Runtime (tiny model; the whole-network run
on two shapes is in tests/workflow/test_workflow.py, the ais_bench --loop path in test_infer_ascend)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from higherhrnet.errors import WorkflowError
from higherhrnet.inference.benchmark import GUIDE_FPS, parse_shapes
from support.infer import export_tiny

ROOT = Path(__file__).resolve().parents[3]


def test_parse_shapes():
    assert len(parse_shapes([])) == 17
    assert parse_shapes(["512x768", "1024X512"]) == [(512, 768), (1024, 512)]
    with pytest.raises(WorkflowError, match="512x480: not one of the 17 compiled shapes"):
        parse_shapes(["512x480"])
    with pytest.raises(WorkflowError, match="write HxW"):
        parse_shapes(["512"])


def test_cli_on_onnxruntime_writes_rows_and_table(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    res = subprocess.run(
        [sys.executable, "scripts/benchmark_model.py", "--backend", "onnxruntime", "--model",
         onnx, "--shapes", "512x512", "768x512", "--loops", "3", "--warmup", "1",
         "--threads", "1", "--output", tmp_path / "b.json", "--html", tmp_path / "b.html"],
        capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    result = json.loads((tmp_path / "b.json").read_text())
    assert [(r["height"], r["width"], r["count"]) for r in result["shapes"]] == [
        (512, 512, 3), (768, 512, 3)]
    for r in result["shapes"]:
        assert r["throughput"] == pytest.approx(1000 / r["latency_mean_ms"])
    assert result["threads"] == 1 and result["guide_fps"] == GUIDE_FPS
    page = (tmp_path / "b.html").read_text()
    assert "185.28" in page and "768x512" in page
    assert not (tmp_path / "b_ais_bench").exists()  # only the Ascend path uses a workdir
