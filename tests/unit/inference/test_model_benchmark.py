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


def _manifest(path: Path, shapes) -> Path:
    from higherhrnet.preprocess.manifest import Manifest, ManifestEntry

    entries = [ManifestEntry(f"{i:012d}", i, f"{i}.jpg", w, h, w, h, (w // 2, h // 2),
                             (w / 200, h / 200)) for i, (h, w) in enumerate(shapes, 1)]
    Manifest(entries, "ascend17").write(path)
    return path


def test_dataset_shapes_count_both_passes_most_frequent_first(tmp_path):
    from higherhrnet.inference.benchmark import dataset_shapes

    a = _manifest(tmp_path / "a.json", [(512, 768), (512, 512), (512, 768)])
    b = _manifest(tmp_path / "b.json", [(768, 512)])
    assert dataset_shapes([a, b]) == [((512, 768), 4), ((512, 512), 2), ((768, 512), 2)]


def test_plan_runs_stays_within_the_share():
    from higherhrnet.inference.benchmark import plan_runs

    # val2017-like: every shape gets the full loops and warm-up, well within 5 %
    big = [((512, 512 + 32 * i), 6000 // (i + 1)) for i in range(17)]
    plan = plan_runs(big, 20, 2, 0.05)
    assert len(plan) == 17 and plan[0] == {"shape": (512, 512), "images": 6000, "loops": 20,
                                           "warmup": 2}
    assert sum(p["loops"] + p["warmup"] for p in plan) <= 0.05 * sum(n for _, n in big)
    # a few images: the most frequent shape only, once after one warm-up
    small = [((512, 672), 4), ((512, 512), 2)]
    assert plan_runs(small, 20, 2, 0.05) == [{"shape": (512, 672), "images": 4, "loops": 1,
                                              "warmup": 1}]
    assert plan_runs(small, 20, 0, 1.0) == [{"shape": (512, 672), "images": 4, "loops": 4,
                                             "warmup": 0},
                                            {"shape": (512, 512), "images": 2, "loops": 2,
                                             "warmup": 0}]


def test_cli_with_manifests_measures_the_runs_shapes_and_its_expected_time(tmp_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    m = _manifest(tmp_path / "m.json", [(512, 768)] * 3 + [(512, 512)])
    res = subprocess.run(
        [sys.executable, "scripts/benchmark_model.py", "--backend", "onnxruntime", "--model",
         onnx, "--manifests", m, "--loops", "20", "--warmup", "2", "--share", "0.25",
         "--threads", "1", "--output", tmp_path / "b.json", "--html", tmp_path / "b.html"],
        capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    result = json.loads((tmp_path / "b.json").read_text())
    # 8 inferences, budget 2 runs: 512x768 once after one warm-up; 512x512 estimated
    assert [(r["height"], r["width"], r["count"], r["images"]) for r in result["shapes"]] == [
        (512, 768, 1, 6)]
    est = {(s["height"], s["width"]): s for s in result["dataset_shapes"]}
    assert est[(512, 768)]["measured"] and not est[(512, 512)]["measured"]
    assert est[(512, 512)]["latency_mean_ms"] == pytest.approx(
        result["shapes"][0]["latency_mean_ms"] * 512 / 768)
    assert result["expected_inference_s"] == pytest.approx(
        (6 * est[(512, 768)]["latency_mean_ms"] + 2 * est[(512, 512)]["latency_mean_ms"]) / 1000)
    assert not result["at_guide_shape"]["measured"]
    page = (tmp_path / "b.html").read_text()
    assert "(est.)" in page and "185.28" in page and "expected inference time" in page
    assert "1 of the run's 2 shape(s) measured" in res.stderr
