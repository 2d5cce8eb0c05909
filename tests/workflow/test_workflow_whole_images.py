"""Own images wider or taller than 2:1 are seen whole (issue 27, item 1), in a real run.

A 3.3:1 panorama (a COCO sample image twice side by side: people at both ends) and a 1:3
tall image (one above the other) run as ``dataset.name: images`` with the default shape
policy on ONNX Runtime (synthetic weights, kept intermediates). The manifests must map the
whole of each image into one of the 17 compiled shapes (the letterbox of ``ascend17_fit``,
which ``auto`` picks for own images); then the raw outputs are replaced by oracle outputs of
the people's labels and postprocess onward must find every labelled person, at both ends.
The guide's ``ascend17`` cut both images to their middle 784 and 850 pixels.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from higherhrnet.data.coco import PERSON_CATEGORY
from higherhrnet.preprocess.manifest import Manifest
from higherhrnet.preprocess.shapes import ASCEND_SHAPES
from higherhrnet.preprocess.transforms import reference_affine
from support.postprocess import oracle_outputs
from support.workflow import ROOT, snakemake

pytestmark = pytest.mark.workflow

SHARDS = 2
RUN = "results/images/onnxruntime"
FAKES = ROOT / "tests" / "fakes"
# file -> (sample image id, "h" side by side / "v" one above the other)
DOUBLED = {"panorama.jpg": (197388, "h"), "tall/portrait.jpg": (329323, "v")}


def _config(work, *more):
    return [f"dataset={{name: images, images: '{work / 'photos'}'}}", "keep_intermediates=True",
            f"shards={SHARDS}", *more]


def _doubled(coco_sample):
    """file -> (RGB-free BGR image, [17x3 keypoints of every labelled person])."""
    ann = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    out = {}
    for rel, (sample_id, how) in DOUBLED.items():
        info = next(im for im in ann["images"] if im["id"] == sample_id)
        img = cv2.imread(str(coco_sample / "images" / info["file_name"]))
        people = [np.array(a["keypoints"], np.float64).reshape(17, 3) for a in ann["annotations"]
                  if a["image_id"] == sample_id and not a["iscrowd"] and a["num_keypoints"] > 0]
        shift = np.array([info["width"], 0, 0] if how == "h" else [0, info["height"], 0])
        both = [p.copy() for p in people] + [p + shift * (p[:, 2:] > 0) for p in people]
        out[rel] = (cv2.hconcat([img, img]) if how == "h" else cv2.vconcat([img, img]), both)
    return out


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory, coco_sample):
    work = tmp_path_factory.mktemp("wf_whole")
    doubled = _doubled(coco_sample)
    for rel, (img, _) in doubled.items():
        (work / "photos" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(work / "photos" / rel), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    snakemake(work, "--cores", "2", config=_config(work))
    return work, doubled


def _manifests(work):
    return [Manifest.read(work / f"results/images/prep/shard{k}.manifest.json")
            for k in range(SHARDS)]


@pytest.mark.slow
def test_wide_and_tall_own_images_are_seen_whole(whole_run):
    work, doubled = whole_run
    entries = {e.file_name: e for m in _manifests(work) for e in m.entries}
    assert sorted(entries) == sorted(DOUBLED)
    for m in _manifests(work):
        assert m.shape_policy == "ascend17_fit" and m.cropped == []
    for rel, e in entries.items():
        g = e.geometry()
        assert (g.input_h, g.input_w) in ASCEND_SHAPES and max(g.input_h, g.input_w) == 1024
        # the image's corner pixels land on the canvas (letterbox: the short side padded)
        a = reference_affine(g)
        corners = np.array([[0, 0], [g.width - 1, g.height - 1]], float) @ a[:, :2].T + a[:, 2]
        assert corners.min() >= -1 and corners[1, 0] <= g.input_w and corners[1, 1] <= g.input_h
        long_in = corners[1, 0] - corners[0, 0] if g.width > g.height else \
            corners[1, 1] - corners[0, 1]
        assert long_in > 1020, (rel, corners)
    # the preprocess logs say nothing is cropped
    logs = "".join(p.read_text() for p in work.glob("logs/images/preprocess/shard*.log"))
    assert "image(s) cropped" not in logs
    page = (work / RUN / "summary.html").read_text()
    assert "Shape policy ascend17_fit: every image seen whole (0 cropped)" in page


def _write_oracle(work, people):
    for k, m in enumerate(_manifests(work)):
        for e in m.entries:
            arrays = oracle_outputs(e.geometry(), people[e.file_name])
            for name, pair in (("output_dir", arrays[:2]), ("output_flip_dir", arrays[2:])):
                for i, a in enumerate(pair):
                    np.save(work / RUN / f"infer/shard{k}" / name / f"{e.stem}_{i}.npy", a)


@pytest.mark.slow
def test_keypoints_are_found_at_both_ends(whole_run):
    work, doubled = whole_run
    _write_oracle(work, {rel: people for rel, (_, people) in doubled.items()})
    out = snakemake(work, "--cores", "2", "--forcerun", "postprocess",
                    config=_config(work, "postprocess={max_people: 30}"))
    assert "rule infer" not in out.stderr and "rule postprocess:" in out.stderr
    preds = json.loads((work / RUN / "predictions.json").read_text())
    for rel, (img, people) in doubled.items():
        mine = [np.array(p["keypoints"]).reshape(17, 3) for p in preds if p["file_name"] == rel]
        h, w = img.shape[:2]
        found = 0
        for gt in people:
            seen = gt[:, 2] > 0
            if seen.sum() < 3:
                continue
            best = min(np.median(np.hypot(*(p[seen, :2] - gt[seen, :2]).T)) for p in mine)
            assert best < 3.0, (rel, gt[seen, :2].mean(0), best)
            found += 1
        assert found >= 4, rel
        # the coordinates span the image along its long side
        xy = np.concatenate([p[p[:, 2] > 0.1, :2] for p in mine])
        along = xy[:, 0] / w if w > h else xy[:, 1] / h
        assert along.min() < 0.1 and along.max() > 0.9, (rel, along.min(), along.max())


@pytest.mark.slow
def test_guide_policy_on_a_coco_set_names_the_cropped_images(whole_run):
    """ascend17 (what `auto` picks for coco_val2017, to keep the guide's numbers) still crops
    the two images, but the preprocess logs name them and the metrics page counts them."""
    work, doubled = whole_run
    images, anns = [], []
    for k, (rel, (img, people)) in enumerate(sorted(doubled.items()), start=1):
        images.append({"id": k, "file_name": rel, "width": img.shape[1], "height": img.shape[0]})
        for p in people:
            seen = p[:, 2] > 0
            x0, y0 = p[seen, :2].min(0)
            x1, y1 = p[seen, :2].max(0)
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": 1, "iscrowd": 0,
                         "keypoints": p.ravel().tolist(), "num_keypoints": int(seen.sum()),
                         "bbox": [x0, y0, x1 - x0, y1 - y0],
                         "area": float(max(1.0, (x1 - x0) * (y1 - y0)))})
    (work / "coco.json").write_text(json.dumps({
        "images": images, "annotations": anns, "categories": [PERSON_CATEGORY]}))
    snakemake(work, "--cores", "2", config=[
        f"dataset={{name: coco_folder, annotations: '{work / 'coco.json'}', "
        f"images: '{work / 'photos'}'}}", f"shards={SHARDS}",
        "preprocess={shape_policy: ascend17}"])
    logs = "".join(p.read_text() for p in work.glob("logs/coco_folder/preprocess/shard*.log"))
    for rel in DOUBLED:
        assert rel in logs
    assert logs.count("1 image(s) cropped by shape policy ascend17") == 2
    page = (work / "results/coco_folder/onnxruntime/metrics.html").read_text()
    assert "Shape policy ascend17: 2 image(s) cropped" in page
    assert "panorama.jpg, tall/portrait.jpg" in page


def test_ascend_runs_fit_own_images_into_the_compiled_shapes(tmp_path):
    """backend ascend (tests/fakes' CANN): own images are preprocessed with ascend17_fit, the
    model compiled for the same 17 shapes (ascend17), the guide's COCO set with ascend17."""
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "wide.jpg"), np.full((100, 400, 3), 99, np.uint8))
    ascend = ["backend=ascend", f"ascend={{cann_env: {FAKES / 'cann' / 'set_env.sh'}}}"]
    out = snakemake(tmp_path, "-n", "-p", config=_config(tmp_path, *ascend))
    preprocess = [line for line in out.stdout.splitlines() if "preprocess.py" in line]
    assert preprocess and all("--shape-policy ascend17_fit" in line for line in preprocess)
    assert "--shape-policy ascend17 " in next(
        line for line in out.stdout.splitlines() if "compile_om.py" in line)
    out = snakemake(tmp_path, "-n", "-p", configfile=ROOT / "config.yaml", config=ascend)
    preprocess = [line for line in out.stdout.splitlines() if "preprocess.py" in line]
    assert preprocess and all("--shape-policy ascend17 " in line for line in preprocess)
