"""COCO keypoint evaluation with pycocotools (docs/reference.md, "COCO results and evaluation").

``COCOeval(gt, dt, 'keypoints')`` over **every image of the annotation file** (the
default ``imgIds``), as the reference: images without predictions or without people
count as they do there.  Defined behaviour for odd input:

* no results at all: every metric with ground truth is 0.0 and a warning is printed;
* a metric without ground truth (no person with keypoints in the annotation file, or none
  of that size for APm/ARm, APl/ARl), which COCOeval reports as -1: ``None`` ("not
  available": ``null`` in the json, an empty csv field, ``n/a`` in the tables) with one
  warning naming the metrics and why;
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
from .metric_sets import COCO_METRICS, MetricSet

METRICS = COCO_METRICS.keys
#: Published single-scale + flip results of HigherHRNet-W32-512 on val2017 (upstream
#: README; the Ascend guide reports AP 67.1 for the OM model).  AR is not published.
GUIDE = COCO_METRICS.reference
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
    with contextlib.redirect_stdout(sys.stderr):
        coco_dt = coco_gt.loadRes(results) if results else _no_results(coco_gt)
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    metrics = {m: (None if v < 0 else float(v)) for m, v in zip(METRICS, ev.stats)}
    missing = [m for m in METRICS if metrics[m] is None]
    if missing:
        sizes = [size for size, names in (("medium", ("APm", "ARm")), ("large", ("APl", "ARl")))
                 if set(names) <= set(missing)]
        why = ("no person with keypoints" if "AP" in missing
               else f"no {' and no '.join(sizes)} person with keypoints")
        _warn(f"{annotations}: {why} in the ground truth, so {', '.join(missing)} "
              "not available (null in the json, n/a in the tables)")
    return metrics


def _no_results(coco_gt):
    """An empty result set COCOeval accepts (``loadRes`` cannot load an empty list)."""
    from pycocotools.coco import COCO

    empty = COCO()
    empty.dataset = {"images": list(coco_gt.dataset.get("images", [])),
                     "categories": list(coco_gt.dataset.get("categories", [])),
                     "annotations": []}
    empty.createIndex()
    return empty


def available(value) -> float | None:
    """A metric's value, or None where it is not available (None, or COCOeval's -1 in a
    metrics file written before null was)."""
    return None if value is None or float(value) < 0 else float(value)


def fmt_percent(value) -> str:
    """A metric (0..1) as a percentage with one decimal, ``n/a`` where not available."""
    value = available(value)
    return "n/a" if value is None else f"{100 * value:.1f}"


def metrics_table(metrics: dict, ms: MetricSet = COCO_METRICS) -> str:
    """Markdown table: this run beside the published numbers (``-``: not published)."""
    def ref(m):
        return "-" if m not in ms.reference else fmt_percent(ms.reference[m])

    lines = ["| | " + " | ".join(ms.labels) + " |", "|---" * (len(ms.keys) + 1) + "|",
             "| this run | " + " | ".join(fmt_percent(metrics.get(m)) for m in ms.keys) + " |",
             f"| {ms.reference_label} | " + " | ".join(ref(m) for m in ms.keys) + " |"]
    return "\n".join(lines) + "\n"


def write_outputs(metrics: dict, json_path, csv_path=None, table_path=None, extra=None,
                  ms: MetricSet = COCO_METRICS) -> None:
    """json (``null`` where not available), csv (an empty field there), markdown table."""
    metrics = {m: available(metrics[m]) for m in ms.keys}
    write_json(json_path, {**metrics, **(extra or {})})
    if csv_path:
        write_text(csv_path, ",".join(ms.keys) + "\n" + ",".join(
            "" if metrics[m] is None else repr(metrics[m]) for m in ms.keys) + "\n")
    if table_path:
        write_text(table_path, metrics_table(metrics, ms))
