"""CrowdPose-format annotations from COCO ones: how the sample and the synthetic CrowdPose sets
are made (../shared/reference/crowdpose/README.md, "Sample labels" and "crowdIndex").

* joints 0-11 are COCO's 5-16 (x, y, v kept); head = the mean of the labelled face joints
  (nose, eyes, ears), v = 1; neck = the shoulders' midpoint when both are labelled, v = 1;
  coordinates rounded to 2 decimals;
* ``num_keypoints`` counts the labelled body joints 0-11 (CrowdPose's convention);
* ``crowdIndex`` per image: the mean over non-crowd people with a labelled joint of
  N_b / N_a (N_a: the person's labelled joints of all 14; N_b: other non-crowd people's
  labelled joints inside its box, borders included), rounded to 2 decimals; 0 without people;
* ``iscrowd``, ``bbox``, ids and file names kept; ``area`` and ``segmentation`` dropped.
"""

from __future__ import annotations

import numpy as np

from .keypoints import CROWDPOSE


def to_14(keypoints_17) -> np.ndarray:
    """COCO's 17 x (x, y, v) -> CrowdPose's 14 x (x, y, v), float64."""
    k = np.asarray(keypoints_17, dtype=np.float64).reshape(17, 3)
    out = np.zeros((14, 3))
    out[:12] = k[5:17]
    face = k[:5][k[:5, 2] > 0]
    if len(face):
        out[12] = face[:, 0].mean(), face[:, 1].mean(), 1
    if k[5, 2] > 0 and k[6, 2] > 0:
        out[13] = (k[5, 0] + k[6, 0]) / 2, (k[5, 1] + k[6, 1]) / 2, 1
    out[:, :2] = np.round(out[:, :2], 2)
    return out


def crowd_index(people: list[tuple[list[float], np.ndarray]]) -> float:
    """``people``: (bbox [x, y, w, h], keypoints [14, 3]) of an image's non-crowd people."""
    ratios = []
    for i, ((x, y, w, h), k) in enumerate(people):
        own = int((k[:, 2] > 0).sum())
        if own == 0:
            continue
        inside = 0
        for j, (_, other) in enumerate(people):
            if j != i:
                lab = other[other[:, 2] > 0]
                inside += int(((lab[:, 0] >= x) & (lab[:, 0] <= x + w)
                               & (lab[:, 1] >= y) & (lab[:, 1] <= y + h)).sum())
        ratios.append(inside / own)
    return round(float(np.mean(ratios)), 2) if ratios else 0.0


def _number(v: float):
    return int(v) if float(v).is_integer() else float(v)


def from_coco(coco: dict) -> dict:
    """A CrowdPose-format json (dict) of a COCO person-keypoints one."""
    anns = []
    for a in coco["annotations"]:
        k = to_14(a["keypoints"])
        anns.append({"num_keypoints": int((k[:12, 2] > 0).sum()), "iscrowd": int(a["iscrowd"]),
                     "keypoints": [_number(v) for v in k.reshape(-1)],
                     "image_id": a["image_id"], "bbox": a["bbox"], "category_id": 1,
                     "id": a["id"]})
    by_image: dict = {}
    for a in anns:
        if not a["iscrowd"]:
            by_image.setdefault(a["image_id"], []).append(
                (a["bbox"], np.asarray(a["keypoints"], dtype=np.float64).reshape(14, 3)))
    images = [{"file_name": im["file_name"], "id": im["id"], "height": im["height"],
               "width": im["width"], "crowdIndex": crowd_index(by_image.get(im["id"], []))}
              for im in coco["images"]]
    category = {"supercategory": "person", "id": 1, "name": "person",
                "keypoints": list(CROWDPOSE.names),
                "skeleton": [[a + 1, b + 1] for a, b in CROWDPOSE.limbs]}
    return {"images": images, "annotations": anns, "categories": [category]}
