"""CrowdPose through the workflow (issue 25): real snakemake runs with a 14-joint model.

* ``dataset.name: crowdpose`` on the 8 sample images with their CrowdPose labels
  (../shared/reference/crowdpose/crowdpose_sample.json) and synthetic weights; then the raw
  outputs are replaced by the reference's network-like CrowdPose outputs (realistic/) and
  postprocess onward must give the reference's results and crowdposetools' nine numbers;
* the synthetic set with a CrowdPose variant, end to end (its labels made CrowdPose-format);
* own images with a CrowdPose model: the csv's columns are the 14 joints';
* a model whose joints do not fit the dataset's: one config error before any job.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from higherhrnet.data.keypoints import CROWDPOSE
from higherhrnet.evaluation.crowdpose_eval import METRICS
from support.postprocess import realistic_cases
from support.workflow import snakemake

pytestmark = pytest.mark.workflow

VARIANT = "model={variant: crowdpose_w32_512}"
SYNTHETIC = "weights={source: synthetic}"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("wf_crowdpose")


@pytest.mark.slow
def test_crowdpose_dataset_gives_the_references_results_and_stats(work, reference,
                                                                   coco_sample,
                                                                   tmp_path_factory):
    labels = reference / "crowdpose" / "crowdpose_sample.json"
    config = [f"dataset={{name: crowdpose, annotations: '{labels}', "
              f"images: '{coco_sample / 'images'}'}}", VARIANT, SYNTHETIC, "shards=1",
              "keep_intermediates=True", "benchmark_model={enabled: false}",
              "postprocess={max_people: 30}"]  # the reference's (the test config says 5)
    snakemake(work, "--cores", "2", config=config)
    run = work / "results/crowdpose/onnxruntime"
    first = json.loads((run / "keypoints_results.json").read_text())
    assert first and all(len(r["keypoints"]) == 42 for r in first)
    # the reference's network-like outputs in place of the synthetic weights' noise
    _, dump, dump_flip, cases = realistic_cases(reference.parent,
                                                tmp_path_factory.mktemp("realistic_cp"),
                                                keypoints="crowdpose")
    infer = run / "infer" / "shard0"
    for entry, _ in cases:
        for src, dst in ((dump, "output_dir"), (dump_flip, "output_flip_dir")):
            for k in (0, 1):
                shutil.copy(src / f"{entry.stem}_{k}.npy", infer / dst / f"{entry.stem}_{k}.npy")
    snakemake(work, "--cores", "2", "--forcerun", "postprocess", config=config)
    got = json.loads((run / "keypoints_results.json").read_text())
    expected = json.loads((reference / "crowdpose/realistic/expected_results.json").read_text())
    # gather_results orders by image id (stable: each image's people as written)
    assert got == sorted(expected, key=lambda r: r["image_id"])
    metrics = json.loads((run / "metrics.json").read_text())
    stats = json.loads((reference / "crowdpose/realistic/expected_stats.json").read_text())
    assert [metrics[m] for m in METRICS] == pytest.approx(stats["values"], abs=1e-4)


@pytest.mark.slow
def test_synthetic_set_and_own_images_with_a_crowdpose_model(work, coco_sample):
    snakemake(work, "--cores", "2", config=[VARIANT])
    run = work / "results/synthetic/onnxruntime"
    labels = json.loads((work / "resources/synthetic/annotations_crowdpose.json").read_text())
    assert labels["categories"][0]["keypoints"] == list(CROWDPOSE.names)
    assert all("crowdIndex" in im for im in labels["images"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(METRICS) <= set(metrics)
    photos = work / "photos"
    photos.mkdir()
    shutil.copy(coco_sample / "images" / "000000000785.jpg", photos / "a.jpg")
    snakemake(work, "--cores", "2",
              config=[f"dataset={{name: images, images: '{photos}'}}", VARIANT, SYNTHETIC])
    table = pd.read_csv(work / "results/images/onnxruntime/keypoints.csv")
    joints = [c[:-2] for c in table.columns if c.endswith("_x")]
    assert joints == list(CROWDPOSE.names)
    preds = json.loads((work / "results/images/onnxruntime/predictions.json").read_text())
    assert preds and all(np.asarray(p["keypoints"]).size == 42 for p in preds)


@pytest.mark.parametrize("dataset, variant, words", [
    ("{name: synthetic}", "{variant: crowdpose_w32_512}", None),
    ("{name: coco_folder, annotations: A, images: I}", "{variant: crowdpose_w32_512}",
     "dataset.name coco_folder is evaluated on coco keypoints"),
    ("{name: crowdpose, annotations: A, images: I}", "{variant: w32_512}",
     "dataset.name crowdpose is evaluated on crowdpose keypoints"),
    ("{name: crowdpose, annotations: A, images: I}", "{variant: crowdpose_w48_640}",
     "holds coco keypoints"),
])
def test_model_and_dataset_joints_must_fit(tmp_path, coco_sample, dataset, variant, words):
    """A dry run: refused in one message before any job (or planned, for the synthetic set)."""
    coco = coco_sample / "person_keypoints_sample.json"
    dataset = dataset.replace("A", f"'{coco}'").replace("I", f"'{coco_sample / 'images'}'")
    out = snakemake(tmp_path, "-n", check=False,
                    config=[f"dataset={dataset}", f"model={variant}", SYNTHETIC])
    if words is None:
        assert out.returncode == 0, out.stderr[-2000:]
        return
    text = out.stdout + out.stderr
    assert out.returncode != 0 and words in text, text[-2000:]
    assert "Traceback" not in text and not (tmp_path / "results").exists()
