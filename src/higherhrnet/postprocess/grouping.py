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
* refine does not compute ``det - round(dist)`` over the whole map.  Since
  ``round(dist) >= 0``, ``score <= det`` everywhere; so once some position scores ``b``, only
  positions with ``det >= b`` can beat or tie it; per 8x8 block, the heatmap maximum and the
  tag ranges bound the score further.  :class:`RefineSearch` scores only the blocks whose
  bound reaches ``b``, for all people missing a joint at once, and returns the
  row-major-first argmax, exactly as ``np.argmax``; :func:`.reference.refine` is the whole-map
  computation (tests prove both equal).
"""

from __future__ import annotations

import numpy as np

from .maps import Heatmaps, Maps
from .params import GroupingParams
from .reference import ParseResult, match_by_tag
from .reference import scores as person_scores


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


# ----------------------------------------------------------------------------- adjust / refine

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


class RefineSearch:
    """Exact ``argmax(det[j] - round(||tag[j] - prev||))`` without the full score map.

    The map is cut into ``BLOCK`` x ``BLOCK`` blocks.  For each block, the heatmap maximum
    and the range of each tag component (``maps.tag_block_bounds``) bound the score from
    above: ``max det - round(lower bound of dist)`` (``np.round`` is monotone).  The block
    with the highest bound is scored first; its best score ``b`` rules out every block whose
    bound is below ``b``; the rest are scored exactly (when that leaves more than
    ``FEW_BLOCKS`` blocks, the ``FIRST_BLOCKS`` highest bounds are scored first: a higher
    ``b`` rules out more blocks).  Positions outside the scored blocks
    score strictly less than ``b``, so the row-major-first argmax is the reference's.
    :meth:`argmax_pairs` does this for many (joint, tag) pairs at once (refine of one person
    does not depend on the others).  Maps whose size is not a multiple of ``BLOCK`` fall back to
    thresholding ``det >= b``, one person at a time.
    """

    BLOCK = 8
    FEW_BLOCKS = 32  # open blocks per pair after scoring the best-bounded one: search them
    FIRST_BLOCKS = 16  # otherwise score this many first, to set a higher bar for the rest
    SLACK = 1e-4  # float32 rounding of scores and tag bounds: include blocks conservatively
    CHUNK = 1 << 21  # pixels scored per batch (bounds memory)

    def __init__(self, maps: Maps):
        self.maps = maps
        self.hm = maps.heatmaps  # exact values on demand (``at``), block bounds
        n, h, w = self.hm.shape
        self._blocked = h % self.BLOCK == 0 and w % self.BLOCK == 0
        self._bounds: dict[int, tuple] = {}
        r = np.arange(self.BLOCK)
        self._offsets = (r[:, None] * w + r[None, :]).ravel()  # pixels of block (0, 0)

    def _scores(self, js: np.ndarray, flat: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """Reference scores at ``flat [m,k]`` of joints ``js [m]`` for tags ``prev [m,2]``
        (the same float32 operations as the reference's whole-map computation)."""
        jj = js if np.ndim(js) == 0 else np.asarray(js, dtype=np.intp)[:, None]
        d = (self.maps.tags_at(jj, flat) - prev[:, None, :]) ** 2
        tt = (d[..., 0] + d[..., 1]) ** 0.5  # == .sum(axis=-1) of the two components
        return self.hm.at(jj, flat) - np.round(tt)

    def _joint_bounds(self, j: int):
        """Per block of joint ``j``: heatmap upper bound, tag component minima and maxima."""
        if j not in self._bounds:  # block maxima may be upper bounds: only bounds matter
            lo, hi = self.maps.tag_block_bounds(j, self.BLOCK)
            self._bounds[j] = (self.hm.block_bound(j, self.BLOCK).ravel(),
                               lo.reshape(-1, lo.shape[-1]), hi.reshape(-1, hi.shape[-1]))
        return self._bounds[j]

    def argmax_pairs(self, js: np.ndarray, prevs: np.ndarray) -> np.ndarray:
        """Row-major-first argmax (flat index) of the score map of joint ``js[i]`` for tag
        ``prevs[i]``, for all pairs at once (each pair is an independent search)."""
        js = np.asarray(js, dtype=np.intp)
        prevs = np.asarray(prevs, dtype=np.float32).reshape(len(js), -1)
        if not self._blocked:
            return np.array([self._threshold(j, p) for j, p in zip(js, prevs)], dtype=np.intp)
        b = self.BLOCK
        w = self.hm.shape[2]
        joints, k_of = np.unique(js, return_inverse=True)
        dmax, lo, hi = (np.stack(x) for x in zip(*(self._joint_bounds(j) for j in joints)))
        nblocks = dmax.shape[1]
        nbx = w // b
        block_start = (np.arange(nblocks) // nbx) * (b * w) + (np.arange(nblocks) % nbx) * b
        out = np.empty(len(js), dtype=np.intp)
        step = max(1, self.CHUNK // (nblocks * 4))
        order = np.argsort(k_of, kind="stable")  # chunks of one joint broadcast its bounds
        for c0 in range(0, len(js), step):
            sl = order[c0: c0 + step]
            p, k = prevs[sl], k_of[sl]
            jsel = js[sl]
            if (k == k[0]).all():  # one joint: broadcast its bounds, pass it as a scalar
                k, jsel = k[:1], int(jsel[0])
            gap = np.maximum(np.maximum(lo[k] - p[:, None], p[:, None] - hi[k]), 0)
            dist = np.sqrt(gap[..., 0] * gap[..., 0] + gap[..., 1] * gap[..., 1])
            lb = np.maximum(dist * np.float32(1 - 1e-5) - np.float32(self.SLACK), 0)
            bound = dmax[k] - np.round(lb)  # [n, blocks]
            best = self._best_of_top(jsel, p, bound, block_start, 1)
            pi, bi = self._open_blocks(bound, best)
            if np.bincount(pi).max(initial=0) > self.FEW_BLOCKS:  # raise the bar first
                best = np.maximum(best, self._best_of_top(jsel, p, bound, block_start,
                                                          self.FIRST_BLOCKS))
                pi, bi = self._open_blocks(bound, best)
            floor = best - self.SLACK * (1.0 + np.abs(best))
            out[sl] = self._best_in_blocks(jsel, p, floor, pi, block_start[bi])
        return out

    def _best_of_top(self, js, prevs, bound, block_start, n_blocks: int) -> np.ndarray:
        """Per pair: the best score in its ``n_blocks`` blocks of highest bound (a score
        reached somewhere, so a valid floor for the rest of the search)."""
        n_blocks = min(n_blocks, bound.shape[1])
        top = np.argpartition(-bound, n_blocks - 1, axis=1)[:, :n_blocks]
        first = (block_start[top][:, :, None] + self._offsets).reshape(len(prevs), -1)
        return self._scores(js, first, prevs).max(axis=1)

    def _open_blocks(self, bound, best):
        """``(pair, block)`` of the blocks whose bound reaches the score ``best`` already
        found (with a float-rounding slack: a block left out scores strictly less)."""
        return np.nonzero(bound >= (best - self.SLACK * (1.0 + np.abs(best)))[:, None])

    def _best_in_blocks(self, js, prevs, floor, pi, starts):
        """Per pair: the smallest flat index of the max score over its candidate blocks.

        Only pixels with ``det >= floor`` (a score already reached) are scored: elsewhere
        ``score <= det < floor``.  Streams over chunks of blocks, so memory stays bounded.
        """
        big = np.iinfo(np.intp).max
        best = np.full(len(prevs), -np.inf, dtype=np.float32)
        where = np.full(len(prevs), big, dtype=np.intp)
        per = max(1, self.CHUNK // self._offsets.size)
        for k in range(0, len(pi), per):
            flat = starts[k: k + per, None] + self._offsets[None]
            jk = js if np.ndim(js) == 0 else js[pi[k: k + per], None]
            keep = self.hm.at(jk, flat) >= floor[pi[k: k + per]][:, None]
            who = np.broadcast_to(pi[k: k + per, None], flat.shape)[keep]
            flat = flat[keep]
            s = self._scores(js if np.ndim(js) == 0 else js[who], flat[:, None], prevs[who])[:, 0]
            top = np.full(len(prevs), -np.inf, dtype=np.float32)
            np.maximum.at(top, who, s)
            first = np.full(len(prevs), big, dtype=np.intp)
            np.minimum.at(first, who, np.where(s == top[who], flat, big))
            where = np.where(top > best, first,
                             np.where(top == best, np.minimum(where, first), where))
            best = np.maximum(best, top)
        return where

    def _threshold(self, j: int, prev: np.ndarray) -> int:
        d = self.hm.materialize()[j].ravel()
        t = d.max()
        while True:
            flat = np.flatnonzero(d >= t)  # ascending, so argmax picks the row-major first
            s = self._scores(np.array([j]), flat[None], prev[None])[0]
            best = s.max()
            if best >= t or flat.size == d.size:
                return int(flat[np.argmax(s)])
            t = best


def _refined_joints(hm, j, flat: np.ndarray):
    """Refined positions and values at flat indices of joint(s) ``j``: ``(x, y, val)``."""
    flat = np.asarray(flat, dtype=np.intp)
    y, x = np.divmod(flat, hm.shape[2])
    dx, dy = quarter_offsets(hm, j, x, y)
    return x + 0.5 + dx, y + 0.5 + dy, hm.at(j, flat)


def _person_tags(maps, persons: np.ndarray) -> list:
    """Per person: the mean tag at its detected joints' (truncated) positions, or None."""
    w = maps.heatmaps.shape[2]
    p, j = np.nonzero(persons[:, :, 2] > 0)  # person-major, joints ascending per person
    pos = persons[p, j, 1].astype(np.int32) * w + persons[p, j, 0].astype(np.int32)
    tags = maps.tags_at(j, pos) if p.size else np.zeros((0, 2), dtype=np.float32)
    found = [[] for _ in persons]
    for who, t in zip(p.tolist(), tags):
        found[who].append(t)
    return [np.mean(f, axis=0) if f else None for f in found]


def refine_people(search: RefineSearch, persons: np.ndarray) -> np.ndarray:
    """Fill missing joints (val == 0) at the best tag-consistent peak (in place).

    Equals :func:`.reference.refine` applied to each person: the mean tag of a person's
    detected joints is fixed before any joint is filled, so every (person, missing joint)
    pair is an independent search, and all of them are searched at once.
    """
    if len(persons) == 0:
        return persons
    prevs = _person_tags(search.maps, persons)
    who, js = np.nonzero(persons[:, :, 2] == 0)
    idx = np.zeros(who.size, dtype=np.intp)  # no detected joint: NaN mean, argmax = 0
    has = np.array([prevs[p] is not None for p in who.tolist()], dtype=bool)
    if has.any():
        idx[has] = search.argmax_pairs(js[has], np.array([prevs[p] for p in who[has]]))
    x, y, val = _refined_joints(search.hm, js, idx)
    fill = val > 0
    who, js = who[fill], js[fill]
    persons[who, js, 0], persons[who, js, 1], persons[who, js, 2] = x[fill], y[fill], val[fill]
    return persons


# ----------------------------------------------------------------------------- parse

def parse(maps: Maps, params: GroupingParams = GroupingParams()) -> ParseResult:
    """The reference parser (:func:`.reference.parse`) on one image's maps, fast."""
    cands = top_candidates(maps.heatmaps, maps.tags_at, params)
    matched = match_by_tag(cands, params)
    adjusted = adjust(matched.copy(), maps.heatmaps) if params.adjust else matched.copy()
    scores = person_scores(adjusted)
    refined = adjusted.copy()
    if params.refine:
        refine_people(RefineSearch(maps), refined)
    return ParseResult(cands, matched, adjusted, scores, refined)
