"""Workflow tests of the multi-scale test and the larger models: a real snakemake run on
images of the 8-image sample set, and what a change of test.scales re-runs.

To fit the CI time, one module-scoped run covers both: W48-640 (synthetic weights) with the
multi-scale test at scales [1, 0.5], on 2 of the sample's images in 2 shards, on the torch
backend (W48-640's ONNX export is checked in tests/unit/model/test_variants.py; the ONNX Runtime
path of a scales or variant change, export or not, is the README table's rows, checked by
tests/workflow/test_rerun.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.workflow import CONFIGS, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

RUN = Path("results/coco_folder/torch")
DOWNSTREAM = {"postprocess", "gather_results", "evaluate", "metrics_table", "draw_skeletons",
              "plot_stage_times"}
TAGS = {1.0: "_640_s1_min0.5", 0.5: "_640_s0.5_min0.5"}


def sample_subset(coco_sample, folder: Path, count: int) -> Path:
    """An annotation file of the first ``count`` sample images (with their people)."""
    gt = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    images = gt["images"][:count]
    ids = {im["id"] for im in images}
    subset = dict(gt, images=images, annotations=[a for a in gt["annotations"]
                                                  if a["image_id"] in ids])
    path = folder / "sample_subset.json"
    path.write_text(json.dumps(subset))
    return path


def dataset_config(coco_sample, annotations) -> str:
    return (f"dataset={{name: coco_folder, annotations: {annotations}, "
            f"images: {coco_sample}/images}}")


def plan(work, config) -> dict[str, int]:
    jobs = planned_jobs(snakemake(work, "-n", configfile=CONFIGS / "coco_sample.yaml",
                                  config=config).stdout)
    jobs.pop("all", None)
    return jobs


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory, coco_sample):
    work = tmp_path_factory.mktemp("wf_variants")
    config = [dataset_config(coco_sample, sample_subset(coco_sample, work, 2)),
              "benchmark_model={enabled: false}", "backend=torch", "model={variant: w48_640}"]
    scales = ["test={scales: [1, 0.5]}"]
    snakemake(work, "--cores", "2", configfile=CONFIGS / "coco_sample.yaml",
              config=config + scales)
    return work, config, scales


@pytest.mark.slow
def test_w48_640_multiscale_run_end_to_end(variant_run):
    work, config, scales = variant_run
    assert (work / "resources/weights/synthetic_untrained_higherhrnet_w48_640.pth").is_file()
    results = json.loads((work / RUN / "keypoints_results.json").read_text())
    assert results and all(len(r["keypoints"]) == 51 for r in results)
    assert {r["image_id"] for r in results} <= {785, 40083}
    metrics = json.loads((work / RUN / "metrics.json").read_text())
    assert 0.0 <= metrics["AP"] <= 1.0
    page = (work / RUN / "metrics.html").read_text()
    assert "HigherHRNet-W48-640" in page and "model.variant w48_640" in page
    assert "scales [0.5, 1]" in page and "72.1" in page  # the reference's numbers for W48-640
    # one preprocess (+ flip) and two inference runs per scale and shard, at input 640, sizes
    # aligned at the smallest scale (short side 320 at 0.5, 640 at 1)
    for scale, tag in TAGS.items():
        for shard in (0, 1):
            manifest = json.loads(
                (work / f"results/coco_folder/prep{tag}/shard{shard}.manifest.json").read_text())
            assert (manifest["input_size"], manifest["scale"], manifest["min_scale"]) == (
                640, scale, 0.5)
            assert manifest["images"]
            for entry in manifest["images"]:
                assert min(entry["input_w"], entry["input_h"]) == 640 * scale
            for name in ("output_dir_summary.json", "output_flip_dir_summary.json"):
                summary = json.loads((work / RUN / f"infer{tag}/shard{shard}" / name).read_text())
                assert summary["backend"] == "torch"
    assert not (work / "results/coco_folder/prep").exists()  # one-scale W32-512 paths: unused
    assert plan(work, config + scales) == {}


@pytest.mark.slow
def test_changing_scales_reruns_preprocess_onward_only(variant_run):
    """Per shard (2): [1] is the one-scale test (its own sizes, all new); [2, 1, 0.5] keeps
    the smallest scale 0.5, so scales 1 and 0.5 are the tensors and outputs already made and
    only scale 2 runs. Never the weights (nor, with ONNX Runtime, the export: test_rerun)."""
    work, config, _ = variant_run
    for scales, new_scales in (("[1]", 1), ("[2, 1, 0.5]", 1)):
        jobs = plan(work, config + [f"test={{scales: {scales}}}"])
        n = 2 * new_scales
        assert jobs.get("preprocess") == jobs.get("preprocess_flip") == n, (scales, jobs)
        assert jobs.get("infer") == jobs.get("infer_flip") == n, (scales, jobs)
        assert DOWNSTREAM <= set(jobs), (scales, jobs)
        assert "make_synthetic_weights" not in jobs, (scales, jobs)


def test_variant_without_download_address_needs_local_weights(tmp_path):
    out = snakemake(tmp_path, "-n", check=False,
                    config=["model={variant: w48_640}", "weights={source: official}"])
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "model.variant w48_640" in text
    assert "weights.source: local" in text


def test_scales_without_1_are_a_config_error(tmp_path):
    out = snakemake(tmp_path, "-n", check=False, config=["test={scales: [0.5, 2]}"])
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "test.scales" in text and "must hold 1" in text, text[-2000:]
