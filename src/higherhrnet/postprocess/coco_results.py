"""Predictions back to image pixels and into COCO keypoint results (docs/reference.md, "Back
to the image" and "COCO results and evaluation").

The inverse transform is the reference's ``get_affine_transform(center, scale, 0,
(w_in, h_in), inv=1)`` (:func:`higherhrnet.transforms.reference_affine` with ``inverse``),
applied in float64 and stored back into the float32 person arrays: the reference's values
bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..preprocess.shapes import Geometry
from ..preprocess.transforms import reference_affine
from ..data.coco import CATEGORY_ID


def to_image(persons: np.ndarray, geom: Geometry) -> np.ndarray:
    """Map x, y of ``persons [P,17,5]`` (input resolution) to image pixels; other columns kept."""
    out = np.array(persons, dtype=np.float32, copy=True)
    if out.size == 0:
        return out.reshape(0, persons.shape[1] if persons.ndim == 3 else 17, 5)
    t = reference_affine(geom, inverse=True)
    x = out[..., 0].astype(np.float64)
    y = out[..., 1].astype(np.float64)
    out[..., 0] = t[0, 0] * x + t[0, 1] * y + t[0, 2]
    out[..., 1] = t[1, 0] * x + t[1, 1] * y + t[1, 2]
    return out


def results_for_image(image_id: int, final_preds: np.ndarray, scores) -> list[dict]:
    """COCO results of one image: keypoints (x, y, heatmap value) x 17, score, bbox.

    The bbox is the min/max box of all 17 keypoints (as the reference writes it;
    pycocotools recomputes bbox and area from the keypoints anyway).
    """
    results = []
    for person, score in zip(final_preds, scores):
        kpt = np.asarray(person, dtype=np.float64)[:, :3]
        left, top = kpt[:, 0].min(), kpt[:, 1].min()
        results.append({
            "bbox": [float(left), float(top),
                     float(kpt[:, 0].max() - left), float(kpt[:, 1].max() - top)],
            "category_id": CATEGORY_ID,
            "image_id": int(image_id),
            "keypoints": [float(v) for v in kpt.ravel()],
            "score": float(score),
        })
    return results
