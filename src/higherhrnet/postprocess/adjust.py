"""Adjust, fast: every detected joint a quarter pixel toward its higher neighbour, plus 0.5
(docs/reference.md, "Adjust"; :func:`.reference.adjust` is the loop over people and joints).
The same +-0.25 rule places the joints refine fills (:mod:`.refine`)."""

from __future__ import annotations

import numpy as np

from .maps import Heatmaps


def quarter_offsets(hm, j, xs: np.ndarray, ys: np.ndarray):
    """The reference's +-0.25 rule at integer points of joint(s) ``j`` (an int or an array
    like ``xs``): ``(dx, dy)`` arrays; toward the higher of the two neighbours (clamped at
    the border), a tie gives -0.25."""
    _, h, w = hm.shape
    xs, ys = np.asarray(xs, dtype=np.intp), np.asarray(ys, dtype=np.intp)
    nb = hm.at(j, np.stack([ys * w + np.minimum(xs + 1, w - 1), ys * w + np.maximum(xs - 1, 0),
                            np.minimum(ys + 1, h - 1) * w + xs, np.maximum(ys - 1, 0) * w + xs]))
    return np.where(nb[0] > nb[1], 0.25, -0.25), np.where(nb[2] > nb[3], 0.25, -0.25)


def adjust(persons: np.ndarray, hm: Heatmaps) -> np.ndarray:
    """Quarter-pixel shift toward the higher neighbour, plus 0.5 (in place; float32)."""
    who, js = np.nonzero(persons[:, :, 2] > 0)  # all detected joints in one batch
    if who.size == 0:
        return persons
    dx, dy = quarter_offsets(hm, js, persons[who, js, 0].astype(np.intp),
                             persons[who, js, 1].astype(np.intp))
    persons[who, js, 0] = persons[who, js, 0] + dx.astype(np.float32) + np.float32(0.5)
    persons[who, js, 1] = persons[who, js, 1] + dy.astype(np.float32) + np.float32(0.5)
    return persons
