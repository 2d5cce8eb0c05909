"""Associative-embedding grouping, fast: NMS, top-k, match_by_tag, adjust, scores, refine.

Decisions are the reference's (docs/reference.md, "Grouping"; written straight in
:mod:`.reference`): float64 candidate rows and float32 person tags where the reference has
them, ``np.round`` (half to even), the strict ``val > detection_threshold``, the person cap,
the +-0.25 neighbour rule (a tie gives -0.25), scores before refine, and refine only
filling joints whose value is 0.  ``match_by_tag`` and the scores are the reference's own
functions (cheap already).  The maps are read through :class:`.maps.Maps`.

What is faster than the reference, with the same result:

* NMS + top-k only look at pixels above the threshold (a kept joint needs ``val > thr``
  and ``val`` equal to the max of its window), not a max-pool of every map, and the
  heatmaps are only computed where they can exceed it (:mod:`.heatmap_tiles`);
* the assignment (:mod:`.assignment`) is a vectorised Munkres with the
  reference solver's tie-breaking, or ``scipy.optimize.linear_sum_assignment``;
* adjust (:mod:`.adjust`) handles every detected joint in one batch;
* refine (:mod:`.refine`) does not compute ``det - round(dist)`` over whole maps: block
  bounds of the heatmap and of the tag distance leave a few pixels per missing joint to
  score, for all people at once, with the row-major-first argmax of ``np.argmax``.
"""

from __future__ import annotations

import time

import numpy as np

from .adjust import adjust
from .maps import Heatmaps, Maps
from .params import GroupingParams
from .reference import ParseResult, match_by_tag
from .reference import scores as person_scores
from .refine import RefineSearch, refine_people


# ----------------------------------------------------------------------------- NMS / top-k

def top_candidates(hm: Heatmaps, tags_at, params: GroupingParams) -> list:
    """Per joint: rows ``(x, y, val, t1, t2)`` (float64) of the NMS peaks above the threshold,
    the ``max_people`` highest, value-descending (equal values in row-major order).

    Only pixels above the threshold are looked at (:meth:`.maps.Heatmaps.peaks`).  All
    joints are handled in one batch (values, ordering and tags gathered once)."""
    n_joints, _, w = hm.shape
    js, flat = hm.peaks(params.detection_threshold, params.nms_padding)
    vals = hm.at(js, flat)
    order = np.lexsort((flat, -vals, js))  # per joint: value-descending, then row-major
    js, flat, vals = js[order], flat[order], vals[order]
    starts = np.searchsorted(js, np.arange(n_joints + 1))
    keep = np.arange(js.size) - starts[js] < params.max_people
    js, flat, vals = js[keep], flat[keep], vals[keep]
    rows = np.zeros((flat.size, 5), dtype=np.float64)
    rows[:, 0], rows[:, 1] = flat % w, flat // w
    rows[:, 2] = vals
    if flat.size:
        rows[:, 3:5] = tags_at(js, flat)
    return np.split(rows, np.searchsorted(js, np.arange(1, n_joints)))


# ----------------------------------------------------------------------------- parse

def parse(maps: Maps, params: GroupingParams = GroupingParams()) -> ParseResult:
    """The reference parser (:func:`.reference.parse`) on one image's maps, fast.

    ``stats`` of the result holds each stage's seconds (``candidates``, ``grouping``,
    ``adjust``, ``refine``; maps computed on demand count in the stage that asks first)."""
    clock = _Clock()
    cands = clock("candidates", top_candidates, maps.heatmaps, maps.tags_at, params)
    matched = clock("grouping", match_by_tag, cands, params)
    adjusted = clock("adjust", adjust, matched.copy(), maps.heatmaps) if params.adjust \
        else matched.copy()
    scores = person_scores(adjusted)
    refined = adjusted.copy()
    if params.refine:
        clock("refine", lambda: refine_people(RefineSearch(maps), refined))
    return ParseResult(cands, matched, adjusted, scores, refined, stats=clock.seconds)


class _Clock:
    """Calls a stage and adds its wall time to ``seconds[name]``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        return out
