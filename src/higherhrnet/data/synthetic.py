"""A small deterministic offline dataset in COCO person-keypoint format (smoke runs, tests).

Each image is a noisy gradient background with 0 to 4 stick figures drawn with OpenCV
(head, torso, limbs), each annotated with the 17 COCO keypoints at the drawn joints. Image
sizes cycle through :data:`SIZES`, which cover square, landscape and portrait inputs,
including ones whose long side the ``ascend17`` policy clamps to 1024. Every fifth image
has no people (COCO val2017 has such images too, and the evaluation counts them).

The output depends only on ``num_images`` and ``seed`` (NumPy PCG64 + OpenCV drawing and
JPEG encoding at quality 90); image ids are distinct 6-digit ints, file names
``<id:012d>.jpg`` as in COCO.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_open, write_json
from .coco import PERSON_CATEGORY, SKELETON

#: (width, height) cycle. Input shapes under ascend17 (H x W): 480x640 -> 512x704,
#: 640x480 -> 704x512, 512x512, 640x427 -> 512x768, 427x640 -> 768x512, 640x360 -> 512x960,
#: 360x640 -> 960x512, 800x300 -> 512x1024 (clamped), 240x600 -> 1024x512 (clamped),
#: 500x333 -> 512x768, 640x512 -> 512x640, 448x640 -> 768x512.
SIZES = [(640, 480), (480, 640), (512, 512), (640, 427), (427, 640), (640, 360),
         (360, 640), (800, 300), (240, 600), (500, 333), (640, 512), (448, 640)]

#: A standing pose facing the camera in a unit box (x right, y down), 17 x 2, ordered as
#: KEYPOINT_NAMES (the person's left is on the image's right, as in COCO).
_TEMPLATE = np.array([
    [0.50, 0.08], [0.53, 0.06], [0.47, 0.06], [0.56, 0.08], [0.44, 0.08],
    [0.62, 0.22], [0.38, 0.22], [0.68, 0.38], [0.32, 0.38], [0.70, 0.52], [0.30, 0.52],
    [0.58, 0.54], [0.42, 0.54], [0.59, 0.75], [0.41, 0.75], [0.60, 0.97], [0.40, 0.97],
])


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    c0, c1 = rng.integers(40, 216, size=(2, 3))
    t = np.linspace(0.0, 1.0, w)[None, :, None]
    img = (c0 * (1 - t) + c1 * t) * np.ones((h, 1, 1))
    img += rng.normal(0.0, 8.0, size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _person(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """17 x 2 joint positions of one figure (may extend past the image border)."""
    ph = rng.uniform(0.35, 0.9) * h
    pw = ph * rng.uniform(0.45, 0.6)
    x0 = rng.uniform(-0.1 * pw, w - 0.9 * pw)
    y0 = rng.uniform(-0.05 * ph, h - 0.9 * ph)
    pts = _TEMPLATE + rng.normal(0.0, 0.025, size=_TEMPLATE.shape)
    if rng.random() < 0.5:  # mirrored: the same figure seen from behind
        pts[:, 0] = 1.0 - pts[:, 0]
    return pts * [pw, ph] + [x0, y0]


def _draw(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator) -> None:
    import cv2

    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    thick = max(2, int(np.linalg.norm(pts[5] - pts[6]) / 5))
    ipts = np.rint(pts).astype(int)
    for a, b in SKELETON:
        cv2.line(img, tuple(ipts[a - 1]), tuple(ipts[b - 1]), colour, thick, cv2.LINE_AA)
    head_r = max(3, int(np.linalg.norm(pts[3] - pts[4]) * 0.8))
    cv2.circle(img, tuple(ipts[0]), head_r, colour, -1, cv2.LINE_AA)
    cv2.fillConvexPoly(img, ipts[[5, 6, 12, 11]], colour, cv2.LINE_AA)


def _annotation(ann_id: int, image_id: int, pts: np.ndarray, w: int, h: int) -> dict:
    inside = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
    kps: list[float] = []
    for (x, y), v in zip(pts, inside):
        kps += [round(float(x), 2), round(float(y), 2), 2] if v else [0, 0, 0]
    x1, y1 = np.clip(pts.min(0) - 8, 0, [w - 1, h - 1])
    x2, y2 = np.clip(pts.max(0) + 8, 0, [w - 1, h - 1])
    bw, bh = float(x2 - x1), float(y2 - y1)
    box = [round(float(x1), 2), round(float(y1), 2), round(bw, 2), round(bh, 2)]
    poly = [box[0], box[1], box[0] + box[2], box[1], box[0] + box[2], box[1] + box[3],
            box[0], box[1] + box[3]]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": kps, "num_keypoints": int(inside.sum()), "bbox": box,
            "area": round(bw * bh * 0.6, 2), "segmentation": [[round(v, 2) for v in poly]]}


def generate(out_dir_images: str | os.PathLike, annotations_path: str | os.PathLike,
             num_images: int = 16, seed: int = 0) -> dict:
    """Write ``num_images`` JPEGs into ``out_dir_images`` and their COCO json; returns it."""
    import cv2

    if num_images < 0:
        raise ValueError("num_images must be >= 0")
    out = Path(out_dir_images)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(100_000, 1_000_000), size=num_images, replace=False)
    images, anns = [], []
    for i, image_id in enumerate(int(x) for x in ids):
        w, h = SIZES[i % len(SIZES)]
        img = _background(rng, w, h)
        n_people = 0 if i % 5 == 4 else int(rng.integers(1, 5))
        for _ in range(n_people):
            pts = _person(rng, w, h)
            _draw(img, pts, rng)
            anns.append(_annotation(len(anns) + 1, image_id, pts, w, h))
        name = f"{image_id:012d}.jpg"
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        with atomic_open(out / name, "wb") as fh:
            fh.write(buf.tobytes())
        images.append({"id": image_id, "file_name": name, "width": w, "height": h,
                       "license": 0, "coco_url": "", "flickr_url": "", "date_captured": ""})
    coco = {"info": {"description": f"synthetic HigherHRNet smoke dataset (seed {seed})",
                     "version": "1.0", "year": 2024},
            "licenses": [{"id": 0, "name": "generated; no rights reserved", "url": ""}],
            "images": images, "annotations": anns, "categories": [PERSON_CATEGORY]}
    write_json(annotations_path, coco)
    print(f"synthetic dataset: {len(images)} images, {len(anns)} people -> {out}",
          file=sys.stderr)
    return coco
