#!/usr/bin/env python
"""What the shape policies do to AP on sets with and without wide or tall images (issue 27).

Oracle network outputs (what an ideal network gives: peaks exactly at the labels, see
tests/support/postprocess.py) through the real postprocess and COCO evaluation, per shape
policy, on: the 8 COCO sample images; the synthetic set (24 images, two in twelve wider or
taller than 2:1); and "doubled": each sample image twice, side by side (landscape) or one
above the other (portrait), labels copied (3:1 and 1:3 images, people at both ends). The
oracle does not care about resolution, so this measures only what a crop loses, not what
the smaller scale of a letterboxed image costs a real network. (The doubled portrait image
holds 24 people; COCOeval's keypoint evaluation counts at most 20 detections per image, so
that set stays below 100 under every policy.)

    python bench/bench_whole_images.py            # prints a markdown table
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from higherhrnet.data.synthetic import generate  # noqa: E402
from higherhrnet.evaluation.cocoeval import evaluate  # noqa: E402
from higherhrnet.postprocess.coco_results import results_for_image  # noqa: E402
from higherhrnet.postprocess.params import GroupingParams  # noqa: E402
from higherhrnet.postprocess.stage import postprocess_arrays  # noqa: E402
from higherhrnet.preprocess.manifest import ManifestEntry  # noqa: E402
from higherhrnet.preprocess.shapes import crops, input_geometry  # noqa: E402
from support.postprocess import oracle_outputs  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "coco_sample" / "person_keypoints_sample.json"
POLICIES = ("ascend17", "ascend17_fit", "reference")


def doubled(ann: dict) -> dict:
    """Each image twice (side by side if landscape, stacked if portrait), labels copied."""
    out = copy.deepcopy(ann)
    out["annotations"] = []
    for im in out["images"]:
        wide = im["width"] >= im["height"]
        shift = (im["width"], 0) if wide else (0, im["height"])
        im["width"], im["height"] = ((2 * im["width"], im["height"]) if wide
                                     else (im["width"], 2 * im["height"]))
        for a in ann["annotations"]:
            if a["image_id"] != im["id"]:
                continue
            for k, (dx, dy) in enumerate([(0, 0), shift]):
                b = copy.deepcopy(a)
                b["id"] = 2 * a["id"] + k
                kp = np.array(b["keypoints"], float).reshape(17, 3)
                kp[kp[:, 2] > 0, :2] += (dx, dy)
                b["keypoints"] = kp.ravel().tolist()
                x, y, w, h = b["bbox"]
                b["bbox"] = [x + dx, y + dy, w, h]
                if isinstance(b.get("segmentation"), list):
                    b["segmentation"] = [(np.array(s, float).reshape(-1, 2) + (dx, dy))
                                         .ravel().tolist() for s in b["segmentation"]]
                out["annotations"].append(b)
    return out


def oracle_ap(ann: dict, ann_path: Path, policy: str) -> tuple[float, int]:
    """AP of the oracle outputs under ``policy`` and the number of cropped images."""
    params = GroupingParams()  # the reference's test settings (30 people)
    results, cropped = [], 0
    for im in ann["images"]:
        geom = input_geometry(im["width"], im["height"], policy)
        cropped += crops(im["width"], im["height"], policy)
        people = [np.array(a["keypoints"], float).reshape(17, 3) for a in ann["annotations"]
                  if a["image_id"] == im["id"] and not a["iscrowd"] and a["num_keypoints"] > 0]
        entry = ManifestEntry.from_geometry(im["id"], im["file_name"], geom)
        preds, scores = postprocess_arrays(oracle_outputs(geom, people), entry, params)
        results += results_for_image(im["id"], preds, scores)
    return evaluate(ann_path, results)["AP"], cropped


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = json.loads(SAMPLE.read_text())
        generate(tmp / "syn", tmp / "synthetic.json", 24, 0)
        sets = {"COCO sample (8)": sample,
                "synthetic (24)": json.loads((tmp / "synthetic.json").read_text()),
                "doubled sample (8, 3:1 / 1:3)": doubled(sample)}
        print("| set | " + " | ".join(f"{p} AP (cropped)" for p in POLICIES) + " |")
        print("|---|" + "---|" * len(POLICIES))
        for k, (name, ann) in enumerate(sets.items()):
            path = tmp / f"set{k}.json"
            path.write_text(json.dumps(ann))
            cells = [oracle_ap(ann, path, p) for p in POLICIES]
            print(f"| {name} | " + " | ".join(f"{100 * ap:.1f} ({n})" for ap, n in cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
