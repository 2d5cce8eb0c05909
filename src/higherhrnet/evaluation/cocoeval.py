"""COCO keypoint evaluation with pycocotools (docs/reference.md, "COCO results and evaluation").

``COCOeval(gt, dt, 'keypoints')`` over **every image of the annotation file** (the
default ``imgIds``), as the reference: images without predictions or without people
count as they do there.  Defined behaviour for odd input:

* no results at all: every metric is 0.0 and a warning is printed (pycocotools cannot
  load an empty result list);
* results for image ids that are not in the annotation file: an error naming the ids
  (a results/annotations mix-up is almost always a configuration mistake); with
  ``drop_unknown=True`` they are dropped with a warning instead;
* malformed results (missing keys, not 51 keypoint values, non-finite numbers): an error
  naming the file and the entry.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path

from ..atomic import write_json, write_text
from ..data.keypoints import KEYPOINT_SETS
from ..errors import WorkflowError, first_few
from ..files import read_json

METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
#: Published single-scale + flip results of HigherHRNet-W32-512 on val2017 (upstream
#: README; the Ascend guide reports AP 67.1 for the OM model).  AR is not published.
GUIDE = {"AP": 0.671, "AP50": 0.862, "AP75": 0.730, "APm": 0.615, "APl": 0.761}
_REQUIRED = ("image_id", "category_id", "keypoints", "score")


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def load_results(path: str | Path) -> list[dict]:
    """Read a COCO results JSON: a list of result dicts (or ``{"results": [...]}``)."""
    path = Path(path)
    data = read_json(path, "results")
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    if not isinstance(data, list):
        raise WorkflowError(f"results {path}: expected a JSON list of COCO keypoint results")
    sizes = {3 * k.num_joints: k for k in KEYPOINT_SETS.values()}
    first = None
    for i, r in enumerate(data):
        if not isinstance(r, dict) or any(k not in r for k in _REQUIRED):
            raise WorkflowError(f"results {path}: entry {i} lacks one of {list(_REQUIRED)}")
        kp = r["keypoints"]
        n = len(kp) if isinstance(kp, list) else None
        if n not in sizes or (first is not None and n != first):
            want = f"{first}" if first is not None else "51 (COCO: 17 x (x, y, score)) or 42 (CrowdPose)"
            raise WorkflowError(f"results {path}: entry {i} has {n if n is not None else 'no'}"
                                f" keypoint values, expected {want}")
        first = n
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in kp + [r["score"]]):
            raise WorkflowError(f"results {path}: entry {i} has non-finite keypoints or score")
    return data


def load_annotations(path: str | Path):
    from pycocotools.coco import COCO

    path = Path(path)
    if not path.is_file():
        raise WorkflowError(f"annotations {path}: file not found")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return COCO(str(path))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise WorkflowError(f"annotations {path}: not a COCO annotation file ({exc})") from None


def evaluate(annotations: str | Path, results: list[dict], drop_unknown: bool = False,
             results_name: str = "results") -> dict:
    """Run COCOeval (keypoints) and return ``{metric: value}`` for :data:`METRICS`."""
    from pycocotools.cocoeval import COCOeval

    coco_gt = load_annotations(annotations)
    known = set(coco_gt.getImgIds())
    unknown = sorted({int(r["image_id"]) for r in results} - known)
    if unknown:
        msg = (f"{results_name}: {len(unknown)} image id(s) not in {annotations}: "
               f"{first_few(map(str, unknown), 20)}")
        if not drop_unknown:
            raise WorkflowError(msg + " (wrong annotation file? use --drop-unknown to ignore them)")
        _warn(msg + "; dropping their results")
        results = [r for r in results if int(r["image_id"]) in known]
    if not results:
        _warn(f"{results_name}: no predictions to evaluate; every metric is 0")
        return {m: 0.0 for m in METRICS}
    with contextlib.redirect_stdout(sys.stderr):
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {m: float(v) for m, v in zip(METRICS, ev.stats)}


def metrics_table(metrics: dict) -> str:
    """Markdown table: this run beside the guide's published numbers."""
    def fmt(v):
        return "-" if v is None else ("n/a" if v < 0 else f"{100 * v:.1f}")

    lines = ["| | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|",
             "| this run | " + " | ".join(fmt(metrics.get(m)) for m in METRICS) + " |",
             "| guide (W32-512, flip) | " + " | ".join(fmt(GUIDE.get(m)) for m in METRICS) + " |"]
    return "\n".join(lines) + "\n"


def write_outputs(metrics: dict, json_path, csv_path=None, table_path=None, extra=None) -> None:
    write_json(json_path, {**metrics, **(extra or {})})
    if csv_path:
        write_text(csv_path, ",".join(METRICS) + "\n"
                   + ",".join(repr(metrics[m]) for m in METRICS) + "\n")
    if table_path:
        write_text(table_path, metrics_table(metrics))
