"""Associative-embedding grouping: NMS, top-k, match_by_tag, adjust, scores, refine.

Decisions are the reference's ``HeatmapParser.parse`` (REFERENCE_PIPELINE.md section 7):
float64 candidate rows and float32 person tags where the reference has them, ``np.round``
(half to even), the strict ``val > detection_threshold``, the person cap, persons keyed by
their first tag component (equal keys overwrite), the +-0.25 neighbour rule (a tie gives
-0.25), scores before refine, and refine only filling joints whose value is 0.

What is faster than the reference, with the same result:

* NMS + top-k only look at pixels above the threshold (a kept joint needs ``val > thr``
  and ``val`` equal to the max of its window), not a max-pool of every map, and the
  heatmaps are only computed where they can exceed it (:mod:`higherhrnet.heatmap_tiles`);
* the assignment (:mod:`higherhrnet.assignment`) is a vectorised Munkres with the
  reference solver's tie-breaking, or ``scipy.optimize.linear_sum_assignment``;
* refine does not compute ``det - round(dist)`` over the whole map.  Since
  ``round(dist) >= 0``, ``score <= det`` everywhere; so once some position scores ``b``, only
  positions with ``det >= b`` can beat or tie it; per 8x8 block, the heatmap maximum and the
  tag ranges bound the score further.  :class:`RefineSearch` scores only the blocks whose
  bound reaches ``b``, for all people missing a joint at once, and returns the
  row-major-first argmax, exactly as ``np.argmax``.  :func:`refine_brute` is the reference
  computation, kept for tests and the benchmark (tests prove both equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .assignment import ASSIGNMENTS
from .heatmap_tiles import DenseHeatmaps, as_heatmaps, block_reduce  # noqa: F401

NUM_JOINTS = 17
#: Matching order: nose, eyes, ears, shoulders, hips, elbows, wrists, knees, ankles.
JOINT_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)


@dataclass(frozen=True)
class GroupingParams:
    """The reference's test-time numbers for w32_512 (config yaml values)."""

    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    max_people: int = 30
    nms_kernel: int = 5
    nms_padding: int = 2
    adjust: bool = True
    refine: bool = True
    #: "munkres": the reference solver's tie-breaking (see :mod:`higherhrnet.assignment`);
    #: "scipy": ``linear_sum_assignment`` (same cost, may pick another of several optima).
    assignment: str = "munkres"

    def __post_init__(self):
        if self.assignment not in ASSIGNMENTS:
            raise ValueError(f"assignment must be one of {sorted(ASSIGNMENTS)}, "
                             f"got {self.assignment!r}")
        if self.nms_kernel < 1 or 2 * self.nms_padding != self.nms_kernel - 1:
            raise ValueError(
                f"NMS kernel {self.nms_kernel} with padding {self.nms_padding} does not keep the "
                "map size (the reference needs padding = (kernel - 1) / 2)")
        if self.max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        if not 0 <= self.detection_threshold <= 1:
            raise ValueError("detection threshold must be in [0, 1] (heatmap values), got "
                             f"{self.detection_threshold}")
        if not self.tag_threshold > 0:
            raise ValueError(f"tag threshold must be > 0, got {self.tag_threshold:g}")


@dataclass
class ParseResult:
    """Every stage of :func:`parse`, for tests and diagnostics."""

    candidates: list  # per joint id: float64 rows [n,5] (x, y, val, t1, t2), val-descending
    matched: np.ndarray  # float32 [P,17,5]
    adjusted: np.ndarray
    scores: np.ndarray  # float32 [P]
    refined: np.ndarray
    stats: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- NMS / top-k

def _local_max_mask(det_j: np.ndarray, ys: np.ndarray, xs: np.ndarray, pad: int) -> np.ndarray:
    """True where ``det_j[y, x]`` equals the max of its (2*pad+1)^2 window (clipped)."""
    h, w = det_j.shape
    v = det_j[ys, xs]
    keep = np.ones(v.shape, dtype=bool)
    for dy in range(-pad, pad + 1):
        ny = ys + dy
        oky = (ny >= 0) & (ny < h)
        for dx in range(-pad, pad + 1):
            if dy == 0 and dx == 0:
                continue
            nx = xs + dx
            ok = oky & (nx >= 0) & (nx < w)
            nb = det_j[np.where(ok, ny, 0), np.where(ok, nx, 0)]
            keep &= ~(ok & (nb > v))
    return keep


def _local_max_mask_sparse(values, shape, ys: np.ndarray, xs: np.ndarray, pad: int):
    """:func:`_local_max_mask` through ``values(flat)`` (one gather of all windows: for the
    few candidates of tiled heatmaps, whose values are known only where they matter)."""
    h, w = shape
    dy, dx = np.divmod(np.arange((2 * pad + 1) ** 2), 2 * pad + 1)
    ny, nx = ys[None] + (dy - pad)[:, None], xs[None] + (dx - pad)[:, None]
    ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    nb = values(np.where(ok, ny * w + nx, 0))
    return ~(ok & (nb > values(ys * w + xs)[None])).any(axis=0)


def _dense_peaks(hm, j: int, params: GroupingParams) -> np.ndarray:
    """Ascending flat indices of joint ``j``'s NMS peaks above the threshold (dense map)."""
    _, _, w = hm.shape
    flat = hm.above(j, params.detection_threshold)
    if flat.size > 200_000:  # one max-pool is cheaper than windowed gathers
        dj = hm.dense_map(j)
        pooled = F.max_pool2d(torch.from_numpy(dj)[None, None], params.nms_kernel, 1,
                              params.nms_padding)
        return flat[(pooled[0, 0].numpy().ravel()[flat] == dj.ravel()[flat])]
    if flat.size:
        return flat[_local_max_mask(hm.dense_map(j), *np.divmod(flat, w), params.nms_padding)]
    return flat


def _peaks(hm, params: GroupingParams):
    """All joints' NMS peaks above the threshold: ``(joints, flat)`` sorted by joint."""
    n_joints, h, w = hm.shape
    hm.prepare(params.detection_threshold)  # may decide to compute the maps densely
    if hm.is_dense:
        peaks = [_dense_peaks(hm, j, params) for j in range(n_joints)]
        return (np.repeat(np.arange(n_joints), [p.size for p in peaks]),
                np.concatenate(peaks).astype(np.intp))
    thr = params.detection_threshold
    # tiled: values known exactly wherever they exceed thr; NMS decided by a max-pool of
    # each tile, except near inner tile edges, whose windows reach into other tiles
    js, flat, decided, keep = hm.above_all(thr, params.nms_padding)
    rest = np.flatnonzero(~decided)
    keep[rest] = _local_max_mask_sparse(lambda f: hm.above_or_low(js[rest], f, thr), (h, w),
                                        *np.divmod(flat[rest], w), params.nms_padding)
    return js[keep], flat[keep]


def top_candidates(det, tags_at, params: GroupingParams) -> list:
    """Per joint: rows ``(x, y, val, t1, t2)`` (float64) of the NMS peaks above the threshold,
    the ``max_people`` highest, value-descending (equal values in row-major order).

    ``det``: the heatmaps, an array ``[17,H,W]`` or a :class:`LazyHeatmaps`.  All joints
    are handled in one batch (values, ordering and tags gathered once)."""
    hm = as_heatmaps(det)
    n_joints, _, w = hm.shape
    js, flat = _peaks(hm, params)
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


# ----------------------------------------------------------------------------- matching

def match_by_tag(candidates: list, params: GroupingParams) -> np.ndarray:
    """Group candidate joints into persons (reference ``match_by_tag``) -> float32 [P,17,5]."""
    slot_of: dict[float, int] = {}  # first-tag key -> slot, in insertion order
    joints: list[np.ndarray] = []
    tag_lists: list[list[np.ndarray]] = []
    means: list[np.ndarray | None] = []

    def new_person(key: float, idx: int, row: np.ndarray, tag: np.ndarray) -> None:
        slot = slot_of.get(key)
        if slot is None:
            slot = slot_of[key] = len(joints)
            joints.append(np.zeros((NUM_JOINTS, 5), dtype=np.float64))
            tag_lists.append([])
            means.append(None)
        joints[slot][idx] = row
        tag_lists[slot] = [tag]
        means[slot] = None

    for i, idx in enumerate(JOINT_ORDER):
        rows = candidates[idx]
        rows = rows[rows[:, 2] > params.detection_threshold]
        if rows.shape[0] == 0:
            continue
        tags = rows[:, 3:5].astype(np.float32)
        if i == 0 or not joints:
            for row, tag in zip(rows, tags):
                new_person(float(tag[0]), idx, row, tag)
            continue
        grouped = list(slot_of.values())[: params.max_people]
        for s in grouped:
            if means[s] is None:
                means[s] = np.mean(tag_lists[s], axis=0)
        person_tags = np.array([means[s] for s in grouped])
        dist = np.linalg.norm(rows[:, None, 3:] - person_tags[None, :, :], ord=2, axis=2)
        cost = np.round(dist) * 100 - rows[:, 2:3]
        n_rows, n_cols = cost.shape
        if n_rows > n_cols:
            cost = np.concatenate([cost, np.full((n_rows, n_rows - n_cols), 1e10)], axis=1)
        for r, c in zip(*ASSIGNMENTS[params.assignment](cost)):
            if c < n_cols and dist[r, c] < params.tag_threshold:
                s = grouped[c]
                joints[s][idx] = rows[r]
                tag_lists[s].append(tags[r])
                means[s] = None
            else:
                new_person(float(tags[r, 0]), idx, rows[r], tags[r])
    if not joints:
        return np.zeros((0, NUM_JOINTS, 5), dtype=np.float32)
    return np.array(joints).astype(np.float32)


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


def adjust(persons: np.ndarray, det) -> np.ndarray:
    """Quarter-pixel shift toward the higher neighbour, plus 0.5 (in place; float32)."""
    who, js = np.nonzero(persons[:, :, 2] > 0)  # all detected joints in one batch
    if who.size == 0:
        return persons
    dx, dy = quarter_offsets(as_heatmaps(det), js, persons[who, js, 0].astype(np.intp),
                             persons[who, js, 1].astype(np.intp))
    persons[who, js, 0] = persons[who, js, 0] + dx.astype(np.float32) + np.float32(0.5)
    persons[who, js, 1] = persons[who, js, 1] + dy.astype(np.float32) + np.float32(0.5)
    return persons


def person_scores(persons: np.ndarray) -> np.ndarray:
    """Mean detection value over all 17 joints (missing joints count 0), float32."""
    return np.array([p[:, 2].mean() for p in persons], dtype=np.float32)


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
    :meth:`argmax_many` does this for many people's tags at once (refine of one person does
    not depend on the others).  Maps whose size is not a multiple of ``BLOCK`` fall back to
    thresholding ``det >= b``, one person at a time.
    """

    BLOCK = 8
    FEW_BLOCKS = 32  # open blocks per pair after scoring the best-bounded one: search them
    FIRST_BLOCKS = 16  # otherwise score this many first, to set a higher bar for the rest
    SLACK = 1e-4  # float32 rounding of scores and tag bounds: include blocks conservatively
    CHUNK = 1 << 21  # pixels scored per batch (bounds memory)

    def __init__(self, maps):
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

    def argmax(self, j: int, prev: np.ndarray) -> int:
        return int(self.argmax_many(j, np.asarray(prev)[None])[0])

    def argmax_many(self, j: int, prevs: np.ndarray) -> np.ndarray:
        """Row-major-first argmax (flat index) of joint ``j``'s score map for each tag row."""
        return self.argmax_pairs(np.full(len(prevs), j, dtype=np.intp), prevs)

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
        d = self.hm.dense_map(j).ravel()
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

    Equals :func:`refine_brute` applied to each person: the mean tag of a person's
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


def refine_person(search: RefineSearch, person: np.ndarray) -> np.ndarray:
    """:func:`refine_people` for one ``[17,5]`` person (in place)."""
    refine_people(search, person[None])
    return person


def refine_brute(det: np.ndarray, tags: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The reference refine on dense maps (``tags [17,H,W,2]``): full score map per joint."""
    hm = DenseHeatmaps(det)
    found = [tags[j, int(person[j, 1]), int(person[j, 0])]
             for j in range(person.shape[0]) if person[j, 2] > 0]
    with np.errstate(invalid="ignore"):
        prev = np.mean(found, axis=0) if found else np.full(tags.shape[-1], np.nan, np.float32)
        ans = []
        for j in range(person.shape[0]):
            tt = ((tags[j] - prev[None, None, :]) ** 2).sum(axis=2) ** 0.5
            ans.append(_refined_joints(hm, j, np.argmax(det[j] - np.round(tt))))
    for j, (x, y, val) in enumerate(ans):
        if val > 0 and person[j, 2] == 0:
            person[j, 0], person[j, 1], person[j, 2] = x, y, val
    return person


# ----------------------------------------------------------------------------- parse

def parse(maps, params: GroupingParams = GroupingParams(), brute_force: bool = False) -> ParseResult:
    """``HeatmapParser.parse`` on one image's aggregated maps (``maps.det``, ``maps.tags_at``).

    ``brute_force=True`` refines with the reference's dense computation (needs ``maps.tags``).
    """
    cands = top_candidates(maps.heatmaps, maps.tags_at, params)
    matched = match_by_tag(cands, params)
    adjusted = adjust(matched.copy(), maps.heatmaps) if params.adjust else matched.copy()
    scores = person_scores(adjusted)
    refined = adjusted.copy()
    if params.refine:
        if brute_force:
            for p in refined:
                refine_brute(maps.det, maps.tags, p)
        else:
            refine_people(RefineSearch(maps), refined)
    return ParseResult(cands, matched, adjusted, scores, refined)
