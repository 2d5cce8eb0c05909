"""Skeleton drawings of predicted people (for the report).

Joints with a heatmap value above ``min_score`` are drawn as dots, limbs of the COCO
skeleton between two such joints as lines, one colour per person.  Written with cv2 as
PNG or JPEG (by the output suffix), atomically.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_open
from ..data.coco import SKELETON
from ..data.keypoints import for_channels
from ..errors import WorkflowError

#: COCO person skeleton, 1-based joint pairs (as in person_keypoints annotations).
COCO_SKELETON = tuple(tuple(limb) for limb in SKELETON)


def skeleton_of(num_joints: int) -> tuple[tuple[int, int], ...]:
    """1-based limbs of the keypoint set with ``num_joints`` joints (COCO 17, CrowdPose 14:
    the reference's ``crowd_pose_part_orders``, not the CrowdPose json's skeleton, which
    is COCO's and names joints 15-17)."""
    return tuple((a + 1, b + 1) for a, b in for_channels(num_joints).limbs)


def _colour(i: int) -> tuple[int, int, int]:
    hue = (i * 37) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(c) for c in bgr)


def draw_people(image: np.ndarray, people: list[dict], min_score: float = 0.1,
                skeleton=None) -> np.ndarray:
    """Draw result dicts (COCO ``keypoints``) onto a copy of a BGR image; ``skeleton``
    (1-based limbs) defaults to the keypoint set of the people's joint count."""
    out = image.copy()
    thick = max(1, round(min(out.shape[:2]) / 250))
    for i, person in enumerate(sorted(people, key=lambda r: -r["score"])):
        kp = np.asarray(person["keypoints"], dtype=np.float64).reshape(-1, 3)
        ok = kp[:, 2] > min_score
        col = _colour(i)
        for a, b in skeleton or skeleton_of(len(kp)):
            if ok[a - 1] and ok[b - 1]:
                cv2.line(out, tuple(int(round(v)) for v in kp[a - 1, :2]),
                         tuple(int(round(v)) for v in kp[b - 1, :2]), col, thick, cv2.LINE_AA)
        for x, y in kp[ok, :2]:
            cv2.circle(out, (int(round(x)), int(round(y))), thick + 1, col, -1, cv2.LINE_AA)
    return out


def write_image(path: Path, image: np.ndarray, params=()) -> None:
    """Encode by the suffix (cv2 ``imencode`` ``params``), written atomically."""
    ext = path.suffix.lower() or ".png"
    ok, buf = cv2.imencode(ext, image, list(params))
    if not ok:
        raise WorkflowError(f"{path}: cv2 cannot encode {ext} images")
    with atomic_open(path, "wb") as fh:
        fh.write(buf.tobytes())


def draw_results(annotations: Path, images_dir: Path, results: list[dict], output_dir: Path,
                 count: int, ext: str = ".jpg", min_score: float = 0.1) -> list[Path]:
    """Draw the predictions of the first ``count`` annotated images (annotation-file order)
    that have results; returns the written paths."""
    try:
        data = json.loads(Path(annotations).read_text())
        images = data["images"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkflowError(f"annotations {annotations}: not a COCO annotation file ({exc})") from None
    skeleton = None  # the results' keypoint set's (a CrowdPose json's own is COCO's)
    by_image = defaultdict(list)
    for r in results:
        by_image[int(r["image_id"])].append(r)
    written = []
    for img in images:
        if len(written) >= count:
            break
        if not by_image.get(int(img["id"])):
            continue
        src = Path(images_dir) / img["file_name"]
        image = cv2.imread(str(src), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            print(f"warning: {src}: cannot read the image; skipped", file=sys.stderr)
            continue
        out = Path(output_dir) / f"{Path(img['file_name']).stem}{ext}"
        write_image(out, draw_people(image, by_image[int(img["id"])], min_score, skeleton))
        written.append(out)
    return written


def draw_listed(images_dir: Path, entries: list[dict], predictions: list[dict],
                paths: list[Path], min_score: float = 0.1) -> list[Path]:
    """Draw each listed image (``file_name`` under ``images_dir``) with its predictions
    (results with ``image_id``) to the matching path of ``paths``, even with nobody found."""
    by_image = defaultdict(list)
    for r in predictions:
        by_image[int(r["image_id"])].append(r)
    written = []
    for entry, out in zip(entries, paths):
        src = Path(images_dir) / entry["file_name"]
        image = cv2.imread(str(src), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            print(f"warning: {src}: cannot read the image any more; no drawing", file=sys.stderr)
            continue
        write_image(out, draw_people(image, by_image[int(entry["id"])], min_score))
        written.append(out)
    return written
