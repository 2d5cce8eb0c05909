"""CrowdPose keypoint evaluation: the nine numbers the reference reports, as crowdposetools
computes them (../shared/reference/crowdpose/README.md, "Evaluator").

crowdposetools is not on PyPI (a Cython build of a GitHub folder) and xtcocotools' wheel does
not import with numpy 2, so this is pycocotools' ``COCOeval`` set up as crowdposetools' own:

* OKS with CrowdPose's 14 sigmas (:data:`higherhrnet.data.keypoints.CROWDPOSE`), every
  joint with v > 0 counted, head and neck included (pycocotools' ``computeOks`` does this
  with ``params.kpt_oks_sigmas``);
* the object scale ``0.53 * gt bbox w * h`` instead of the gt ``area`` (CrowdPose jsons have
  none): written into each annotation's ``area`` on loading, which is what both the OKS and
  the area ranges then read;
* ``maxDets = [20]``; ignored gt: ``iscrowd`` or ``num_keypoints == 0`` (pycocotools' rule);
* results carry ``bbox``, so ``loadRes`` takes its bbox branch in both (area = w * h);
* AP (easy / medium / hard): images split by the json's ``crowdIndex`` (< 0.2, < 0.8, the
  rest), ``evaluate`` + ``accumulate`` on each split's images, and the mean of
  ``precision[:, :, :, 0, :]`` **without** a ``> -1`` filter, rounded to 4 decimals; the
  other six numbers are not rounded. A split without images (crowdposetools' -1) is None
  here ("not available"), with a warning: a -1 never reaches a table.

The reference's names and order: AP, Ap .5, AP .75, AR, AR .5, AR .75, AP (easy),
AP (medium), AP (hard) (``stats`` indices 0, 1, 2, 5, 6, 7 and the three splits).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from ..data.keypoints import CROWDPOSE
from ..errors import WorkflowError
from ..files import read_json
from .metric_sets import CROWDPOSE_METRICS

#: The metric keys here and the reference's stat names (``Ap .5`` with its lower-case p).
METRICS, NAMES = CROWDPOSE_METRICS.keys, CROWDPOSE_METRICS.labels
#: crowdposetools' ``get_type_result(first=0.2, second=0.8)``
SPLITS = (("AP_easy", 0.0, 0.2), ("AP_medium", 0.2, 0.8), ("AP_hard", 0.8, float("inf")))
OBJECT_SCALE = 0.53


def load_annotations(path: str | Path):
    """A CrowdPose json as a pycocotools ``COCO`` with crowdposetools' object scale as
    ``area``. Errors name the file: no 14-joint person category, an image without
    ``crowdIndex``, an annotation without ``bbox``."""
    from pycocotools.coco import COCO

    path = Path(path)
    data = read_json(path, "annotations")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations", "categories")):
        raise WorkflowError(f"annotations {path}: not a CrowdPose annotation file (needs "
                            "'images', 'annotations' and 'categories' lists)")
    cats = [c for c in data["categories"] if isinstance(c, dict)
            and len(c.get("keypoints") or ()) == CROWDPOSE.num_joints]
    if not cats:
        raise WorkflowError(f"annotations {path}: no category with {CROWDPOSE.num_joints} "
                            "keypoints (is this crowdpose_val.json or crowdpose_test.json?)")
    no_index = [img.get("id") for img in data["images"] if "crowdIndex" not in img]
    if no_index:
        raise WorkflowError(f"annotations {path}: {len(no_index)} image(s) without crowdIndex "
                            f"(e.g. id {no_index[0]}): the easy/medium/hard split needs it")
    for ann in data["annotations"]:
        box = ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4):
            raise WorkflowError(f"annotations {path}: annotation {ann.get('id')} has no bbox")
        ann["area"] = box[2] * box[3] * OBJECT_SCALE
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(sys.stderr):
        coco.createIndex()
    return coco


def split_image_ids(coco) -> dict[str, list[int]]:
    """Image ids per crowdIndex split, in the json's order."""
    out: dict[str, list[int]] = {name: [] for name, _, _ in SPLITS}
    for img in coco.dataset["images"]:
        for name, low, high in SPLITS:
            if low <= img["crowdIndex"] < high:
                out[name].append(img["id"])
                break
    return out


def evaluate(annotations: str | Path, results: list[dict]) -> dict[str, float | None]:
    """The nine numbers ``{metric: value}`` (:data:`METRICS` order) of ``results`` (COCO
    keypoint results with 14 joints and a bbox each) on a CrowdPose json."""
    from pycocotools.cocoeval import COCOeval

    gt = load_annotations(annotations)
    unknown = sorted({int(r["image_id"]) for r in results} - set(gt.getImgIds()))
    if unknown:
        raise WorkflowError(f"results: {len(unknown)} image id(s) not in {annotations}: "
                            f"{', '.join(map(str, unknown[:20]))} (wrong annotation file?)")
    if not results:
        print("warning: no predictions to evaluate; every metric is 0", file=sys.stderr)
        return {m: 0.0 for m in METRICS}
    with contextlib.redirect_stdout(sys.stderr):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.useSegm = None
        ev.params.kpt_oks_sigmas = np.array(CROWDPOSE.sigmas) / 10.0
        ev.params.maxDets = [20]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        values = dict(zip(METRICS, (float(ev.stats[i]) for i in (0, 1, 2, 5, 6, 7))))
        for name, ids in split_image_ids(gt).items():
            if not ids:
                print(f"warning: {annotations}: no image has a crowdIndex in the {name[3:]} "
                      "range; that AP is not available", file=sys.stderr)
                values[name] = None
                continue
            ev.params.imgIds = ids
            ev.evaluate()
            ev.accumulate()
            values[name] = round(float(np.mean(ev.eval["precision"][:, :, :, 0, :])), 4)
    return values

