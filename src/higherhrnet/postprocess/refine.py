"""Refine, fast: every missing joint at the row-major-first argmax of its whole score map.

The reference (:func:`.reference.refine`) fills a person's missing joint ``j`` at
``argmax(det[j] - round(||tags[j] - prev||))`` over the whole map, ``prev`` the mean tag
of the person's detected joints.  On a trained network's outputs most people miss some
joints (occluded, or below the threshold), so this search over whole maps was most of the
postprocess time; :class:`RefineSearch` gives the same index for all (person, joint) pairs
at once while looking at few pixels per pair:

* The map is cut into ``BLOCK`` x ``BLOCK`` blocks, grouped into regions of ``REGION`` x
  ``REGION`` blocks.  Per block, the heatmap gives an upper bound of its maximum
  (:meth:`.maps.Heatmaps.block_bound`: from the resize's source pixels, so no map is computed
  for it) and, on demand, its exact maximum (:meth:`.maps.Heatmaps.block_max`: only those
  blocks' tiles are computed); ``maps.tag_block_bounds`` gives the range of each tag
  component.
* The range's disc bounds the tag distance from below and above; ``np.round`` is monotone,
  so where both bounds round to the same ``k`` every pixel of the block scores ``det - k``
  (a *constant* block): its best score is ``max det - k``, found without any tag.  Elsewhere
  (a *varying* block, where the distance crosses a rounding boundary) ``max det - k_low``
  bounds its scores.
* Per pair: the best score of the region of highest bound is a score reached (a bar); only
  regions, then blocks, whose bound reaches the bar are looked at; their constant blocks
  raise it; varying blocks still reaching it are scored pixel by pixel (only pixels with
  ``det - k_low`` reaching it), with the reference's float32 operations.
* Whole joint maps: once most regions of a joint are to be searched, its whole map is made
  (one resize), which makes its block and region maxima exact.  A region of such a map
  whose rounded distance is one ``k`` then scores ``max det - k`` without looking at its
  blocks; only those reaching the best score, in the first region row holding one, are
  opened (on an oracle's flat background every region ties).
* Ties: any pixel of block row ``r`` precedes every pixel of row ``r + 1``, so the answer is
  the first pixel reaching the best score in the first block row holding a block that
  reaches it.

Float32 rounding is monotone, bounds are rounded up to float32, and the distance bounds
carry a relative margin far above the few float32 roundings of the reference's distance:
every bound holds, and a "constant" block is constant in the reference's own arithmetic.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .adjust import quarter_offsets
from .maps import Maps

_BIG = np.iinfo(np.intp).max


class RefineSearch:
    """Exact ``argmax(det[j] - round(||tag[j] - prev||))`` for many (joint, tag) pairs.

    All pairs are searched together, whatever their joint: cells are global block ids
    ``j * blocks + block`` into tables stacked over the joints (:class:`_Tables`), so the
    cost of each step is paid once per image rather than once per joint.  Maps whose size
    is not a multiple of ``BLOCK`` fall back to thresholding ``det >= b`` over the dense
    map, one pair at a time (:meth:`_threshold`).
    """

    BLOCK = 8
    REGION = 4  # blocks: regions of REGION x REGION blocks bound whole areas first
    PAIRS = 256  # pairs searched together (bounds memory: pairs x regions)
    CHUNK = 1 << 20  # pixels scored per batch (bounds memory)
    FEW_BLOCKS = 16  # varying blocks to score per pair before raising the bar ...
    FIRST_BLOCKS = 8  # ... by scoring this many of highest bound first (doubling)
    SCORE_ALL = 0.6  # share of a chunk's pixels that may reach the bar, above which all are
    DENSE_REGIONS = 0.25  # share of a joint's regions searched above which its map is made whole
    MARGIN = 1e-6  # relative, on tag bounds and distances: >> float32 rounding (6e-8 each)

    def __init__(self, maps: Maps):
        self.maps = maps
        self.hm = maps.heatmaps
        n, h, w = self.hm.shape
        self._blocked = h % self.BLOCK == 0 and w % self.BLOCK == 0
        self._nbx = w // self.BLOCK
        r = np.arange(self.BLOCK)
        self._offsets = (r[:, None] * w + r[None, :]).ravel()  # pixels of block (0, 0), in order
        self._t: _Tables | None = None
        # whole joint maps the search made (flat); pages of joints never made are never touched
        self._whole = np.zeros(n, dtype=bool)
        self._maps: np.ndarray | None = None

    def tables(self, joints=None) -> "_Tables":
        """The blocks and regions of ``joints`` (all by default), built once per joint, for
        the joints of one call together (whole arrays cost less than one pass per joint)."""
        n, b = self.hm.shape[0], self.BLOCK
        if self._t is None:
            self._t = _Tables(n, self.hm.shape[1] // b, self._nbx, self.REGION)
        need = np.arange(n) if joints is None else np.unique(joints)
        need = need[~self._t.built[need]]
        if need.size:
            self._t.fill(need, np.stack([self.hm.block_bound(int(k), b) for k in need]),
                         *self.maps.tag_block_bounds(need, b), self.MARGIN)
        return self._t

    def _block_start(self, blocks: np.ndarray) -> np.ndarray:
        by, bx = np.divmod(blocks, self._nbx)
        return by * (self.BLOCK * self.BLOCK * self._nbx) + bx * self.BLOCK

    def _pixels(self, cells: np.ndarray):
        """Joints ``[n, 1]`` and flat indices ``[n, BLOCK^2]`` (row-major) of global cells."""
        j, blocks = np.divmod(cells, self._t.nb)
        return j[:, None], self._block_start(blocks)[:, None] + self._offsets

    def _exact_max(self, t: "_Tables", cells: np.ndarray) -> np.ndarray:
        """Exact heatmap maxima of the global cells ``cells`` (cached)."""
        todo = np.unique(cells[np.isnan(t.bmax[cells])])
        if todo.size:
            j, blocks = np.divmod(todo, t.nb)
            t.bmax[todo] = self.hm.block_max(j, self.BLOCK, blocks)
        return t.bmax[cells]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.hm.shape

    def at(self, j, flat: np.ndarray) -> np.ndarray:
        """Exact heatmap values of joint(s) ``j`` at flat indices (as
        :meth:`.maps.Heatmaps.at`), read from the whole joint maps the search made, where
        it made them, instead of computing their tiles again."""
        if not self._whole.any():
            return self.hm.at(j, flat)
        js, flat = np.broadcast_arrays(np.asarray(j, dtype=np.intp),
                                       np.asarray(flat, dtype=np.intp))
        mine = self._whole[js]
        if mine.all():
            return self._maps[js, flat]
        out = np.empty(flat.shape, dtype=np.float32)
        out[mine] = self._maps[js[mine], flat[mine]]
        if (~mine).any():
            out[~mine] = self.hm.at(js[~mine], flat[~mine])
        return out

    def _go_dense(self, t: "_Tables", joints) -> None:
        """The whole maps of ``joints``, once most of their regions are to be searched (one
        resize costs less than computing most tiles one by one); their block maxima then
        are exact."""
        n, h, w = self.hm.shape
        if self._maps is None:
            self._maps = np.empty((n, h * w), dtype=np.float32)
        for j in joints:
            m = torch.from_numpy(self.hm.joint_map(int(j), out=self._maps[j]))
            own = slice(j * t.nb, (j + 1) * t.nb)
            b = self.BLOCK  # block maxima: exact in any order
            t.bmax[own] = m.unflatten(1, (-1, b)).amax(dim=2).unflatten(0, (-1, b)).amax(
                dim=1).numpy().ravel()
            t.upper[own] = t.bmax[own]
            t.rupper[j * t.nr: (j + 1) * t.nr] = _region_reduce(
                t.bmax[own].reshape(-1, self._nbx), self.REGION, np.maximum, -np.inf).ravel()
            self._whole[j] = True

    # ------------------------------------------------------------------ search
    def argmax_pairs(self, js: np.ndarray, prevs: np.ndarray) -> np.ndarray:
        """Row-major-first argmax (flat index) of the score map of joint ``js[i]`` for tag
        ``prevs[i]``, for all pairs at once (each pair is an independent search)."""
        js = np.asarray(js, dtype=np.intp)
        prevs = np.asarray(prevs, dtype=np.float32).reshape(len(js), -1)
        if not self._blocked:
            return np.array([self._threshold(j, p) for j, p in zip(js, prevs)], dtype=np.intp)
        out = np.empty(len(js), dtype=np.intp)
        order = np.argsort(js, kind="stable")  # a chunk holds few joints: fewer whole maps
        for c0 in range(0, order.size, self.PAIRS):
            sel = order[c0: c0 + self.PAIRS]
            out[sel] = self._search(js[sel], prevs[sel])
        return out

    def _rounded_bounds(self, cx, cy, radius, prevs):
        """``(k_low, k_high)`` per cell: the rounded tag distance to ``prevs [n, 2]`` of every
        pixel of a block (or region) with tag range centre ``(cx, cy)`` and radius ``radius``
        lies between them.

        The distance to the range's centre, minus and plus its radius, bounds the distance
        (a disc holds the box); the relative margin covers the float32 roundings of both
        this computation and the reference's."""
        d0, d1 = prevs[:, 0] - cx, prevs[:, 1] - cy
        dist = np.sqrt(d0 * d0 + d1 * d1)
        slack = radius + self.MARGIN * (dist + np.abs(prevs).sum(-1))
        return np.round(np.maximum(dist - slack, 0)), np.round(dist + slack)

    def _search(self, js: np.ndarray, prevs: np.ndarray) -> np.ndarray:
        """:meth:`argmax_pairs` for one chunk of pairs: regions, then blocks, then pixels."""
        t = self.tables(js)
        m, nr = len(prevs), t.nr
        who, reg = np.repeat(np.arange(m), nr), np.tile(np.arange(nr), m)
        greg = js[who] * nr + reg  # global region ids
        low, _ = self._rounded_bounds(t.rcx[greg], t.rcy[greg], t.rradius[greg], prevs[who])
        rbound = _bound(t.rupper[greg], low).reshape(m, nr)  # >= every score of the region
        # a bar per pair: the best score in the best-bounded blocks of its best-bounded region
        who, cells = t.cells(js, np.arange(m), rbound.argmax(axis=1))
        low, _ = self._rounded_bounds(t.cx[cells], t.cy[cells], t.radius[cells], prevs[who])
        pick = _top_per_pair(np.arange(cells.size), who, _bound(t.upper[cells], low),
                             self.FIRST_BLOCKS)
        floor, _ = self._search_blocks(t, js, prevs, np.full(m, -np.inf, dtype=np.float32),
                                       who[pick], cells[pick])
        who, reg = np.nonzero(rbound >= floor[:, None])  # the regions that may hold the best
        searched = np.bincount(np.unique(js[who] * nr + reg) // nr, minlength=self._whole.size)
        self._go_dense(t, np.flatnonzero((searched > self.DENSE_REGIONS * nr) & ~self._whole))
        # regions of whole maps whose tag distance rounds to one k: their best is exact
        # (max det - k) without looking at their blocks
        greg = js[who] * nr + reg
        low, high = self._rounded_bounds(t.rcx[greg], t.rcy[greg], t.rradius[greg],
                                         prevs[who])
        rbest = _bound(t.rupper[greg], low)  # exact where known, else a bound of the scores
        known = self._whole[js[who]] & (low == high)
        np.maximum.at(floor, who[known], rbest[known])
        rest = ~known & (rbest >= floor[who])  # rbest: a bound of the others' scores
        best, first = self._search_blocks(t, js, prevs, floor, *t.cells(js, who[rest], reg[rest]))
        hit = known & (rbest == best[who])
        if hit.any():  # the first pixel of the known regions reaching the best
            who, reg, low = who[hit], reg[hit], low[hit]
            row = reg // t.rx
            top = np.full(m, _BIG, dtype=np.intp)
            np.minimum.at(top, who, row)
            sel = row == top[who]  # only the first region row holding one can hold the first
            n = t.start[reg[sel] + 1] - t.start[reg[sel]]
            bwho, cells = t.cells(js, who[sel], reg[sel])
            blow = np.repeat(low[sel], n)
            at = t.bmax[cells] - blow.astype(np.float32) == best[bwho]
            first = np.minimum(first, self._first_reaching(
                best, bwho[at], cells[at], blow[at], np.full(at.sum(), -1, dtype=np.intp)))
        return first

    def _search_blocks(self, t, js, prevs, best, who, cells):
        """The best score and its first index per pair, over the global cells ``cells`` of
        pairs ``who`` and the scores ``best`` (reached elsewhere, or -inf; raised in place):
        ``(best, index)``, the index ``_BIG`` where none of the cells reaches ``best``."""
        m = len(prevs)
        low, high = self._rounded_bounds(t.cx[cells], t.cy[cells], t.radius[cells],
                                         prevs[who])
        near = _bound(t.upper[cells], low) >= best[who]  # may reach the bar
        who, cells, low, high = who[near], cells[near], low[near], high[near]
        bound = self._exact_max(t, cells) - low.astype(np.float32)  # the block's best or more
        constant = low == high  # every pixel of the block scores det - k: its best is bound
        np.maximum.at(best, who[constant], bound[constant])
        # varying blocks, scored once each: per pair the best-bounded first while many may
        # still reach the bar (a pixel reaching the final best reaches every earlier bar)
        top = np.full(cells.size, np.nan, dtype=np.float32)
        at = np.full(cells.size, _BIG, dtype=np.intp)
        var = np.flatnonzero(~constant & (bound >= best[who]))
        k = self.FIRST_BLOCKS
        while var.size:  # var: not scored yet, may still reach the bar
            pick = var if var.size <= self.FEW_BLOCKS * m else \
                _top_per_pair(var, who[var], bound[var], k)
            top[pick], at[pick] = self._score_cells(prevs, who[pick], cells[pick], low[pick],
                                                    best)
            np.maximum.at(best, who[pick], top[pick])
            var = var[np.isnan(top[var]) & (bound[var] >= best[who[var]])]
            k *= 2
        # the cells reaching the best score: constant blocks at their bound (first index
        # still to find: -1), and the scored varying blocks
        hit = np.flatnonzero(constant & (bound == best[who]))
        reached = np.flatnonzero(top == best[who])  # NaN (never scored) compares False
        both = np.r_[hit, reached]
        return best, self._first_reaching(
            best, who[both], cells[both], low[both],
            np.r_[np.full(hit.size, -1, dtype=np.intp), at[reached]])

    def _score_cells(self, prevs, who, cells, low, floor):
        """Exact best score and its first flat index in each global cell (pair ``who``).

        Cells whose pixels mostly cannot reach the floor (``det - low < floor``) score only
        the others (tags are the dear part where they are emulated point by point); otherwise
        every pixel of the chunk is scored as one array, its first maximum per cell by argmax
        (cells hold pixels in row-major order)."""
        best = np.full(who.size, -np.inf, dtype=np.float32)
        first = np.full(who.size, _BIG, dtype=np.intp)
        per = max(1, self.CHUNK // self._offsets.size)
        for c0 in range(0, who.size, per):
            c = np.arange(c0, min(c0 + per, who.size))
            j, flat = self._pixels(cells[c])  # [n, 1], [n, 64]
            d = self.at(j, flat)
            keep = (d - low[c].astype(np.float32)[:, None]) >= floor[who[c]][:, None]
            if keep.mean() > self.SCORE_ALL:
                s = self._score_pixels(np.broadcast_to(j, flat.shape), flat, d,
                                       prevs[who[c]][:, None, :])
                best[c] = s.max(axis=1)
                first[c] = flat[np.arange(c.size), s.argmax(axis=1)]
                continue
            cell = np.broadcast_to(c[:, None], flat.shape)[keep]
            jp, flat, d = np.broadcast_to(j, flat.shape)[keep], flat[keep], d[keep]
            if cell.size:
                s = self._score_pixels(jp, flat, d, prevs[who[cell]])
                np.maximum.at(best, cell, s)
                np.minimum.at(first, cell, np.where(s == best[cell], flat, _BIG))
        return best, first

    def _score_pixels(self, j, flat, d, prevs) -> np.ndarray:
        """The reference's scores at pixels ``flat`` of joints ``j`` (any shape; ``d``: their
        heatmap values, ``prevs``: tags broadcast against ``flat``'s shape plus 2): ``det -
        round(||tag - prev||)`` in float32, the reference's operations."""
        diff = (self.maps.tags_at(j, flat) - prevs) ** 2
        return d - np.round((diff[..., 0] + diff[..., 1]) ** 0.5)

    def _first_reaching(self, best, who, cells, low, first) -> np.ndarray:
        """Per pair: the first flat index scoring ``best``, among the global cells (pair
        ``who``) that reach it (``first``: its index in the cell, or -1 for a constant block,
        found here from ``det - low``).  Only the first block row holding such a cell is
        looked at: its pixels precede those of every later row."""
        row = cells % self._t.nb // self._nbx
        top = np.full(best.size, _BIG, dtype=np.intp)
        np.minimum.at(top, who, row)
        sel = row == top[who]
        who, cells, low, first = who[sel], cells[sel], low[sel], first[sel]
        todo = np.flatnonzero(first < 0)
        if todo.size:
            j, flat = self._pixels(cells[todo])  # [t, 1], [t, 64]
            s = self.at(j, flat) - low[todo].astype(np.float32)[:, None]
            hit = s == best[who[todo]][:, None]
            first[todo] = flat[np.arange(todo.size), hit.argmax(axis=1)]
        out = np.full(best.size, _BIG, dtype=np.intp)
        np.minimum.at(out, who, first)
        return out

    def _threshold(self, j: int, prev: np.ndarray) -> int:
        d = self.hm.materialize()[j].ravel()
        t = d.max()
        while True:
            flat = np.flatnonzero(d >= t)  # ascending, so argmax picks the row-major first
            diff = (self.maps.tags_at(j, flat) - prev) ** 2
            s = d[flat] - np.round((diff[:, 0] + diff[:, 1]) ** 0.5)
            best = s.max()
            if best >= t or flat.size == d.size:
                return int(flat[np.argmax(s)])
            t = best


def _top_per_pair(cells: np.ndarray, who: np.ndarray, bound: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` cells of highest bound of each pair (all of a pair's if it has fewer)."""
    order = np.lexsort((-bound, who))
    who = who[order]
    start = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
    rank = np.arange(who.size) - np.repeat(start, np.diff(np.r_[start, who.size]))
    return cells[order[rank < k]]


def _bound(upper: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``upper - k`` rounded to float32: at least every float32 score ``fl(det - k)`` with
    ``det <= upper`` (rounding is monotone)."""
    return (upper - k).astype(np.float32)


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
    y, x = np.divmod(idx, search.shape[2])
    dx, dy = quarter_offsets(search, js, x, y)  # from the search's whole maps where made
    val = search.at(js, idx)
    fill = val > 0
    who, js = who[fill], js[fill]
    persons[who, js, 0] = (x + 0.5 + dx)[fill]
    persons[who, js, 1] = (y + 0.5 + dy)[fill]
    persons[who, js, 2] = val[fill]
    return persons


class _Tables:
    """The joints' blocks and regions of ``REGION`` x ``REGION`` blocks (the last ones may be
    smaller), stacked: a *cell* is the global block id ``j * nb + block`` (row-major block
    ids), a global region ``j * nr + region``.  Per block an upper bound of its heatmap
    maximum (float64), its exact maximum once asked for (NaN before), and its tag range as
    a centre and a radius (a disc holding the range, widened by the margin, rounded up to
    float32); per region, the same bounds.  Rows of joints not ``built`` are not set."""

    def __init__(self, n: int, nby: int, nbx: int, region: int):
        # blocks in region order, and each region's first position
        self.block, self.start = _layout(nby, nbx, region)
        self.nby, self.nbx, self.region = nby, nbx, region
        self.nb, self.nr = self.block.size, self.start.size - 1
        self.rx = -(-nbx // region)  # regions per row
        self.built = np.zeros(n, dtype=bool)
        # flat per cell (global block) and per global region; a joint's rows are contiguous
        self.upper, self.rupper = np.empty(n * self.nb), np.empty(n * self.nr)
        self.cx, self.cy, self.radius = (np.empty(n * self.nb, dtype=np.float32) for _ in "xyr")
        self.rcx, self.rcy, self.rradius = (np.empty(n * self.nr, dtype=np.float32) for _ in "xyr")
        self.bmax = np.full(n * self.nb, np.nan, dtype=np.float32)

    def fill(self, joints: np.ndarray, upper: np.ndarray, lo: np.ndarray, hi: np.ndarray,
             margin: float) -> None:
        """Build the rows of ``joints`` from their block upper bounds ``[k, nby, nbx]`` and
        tag component bounds ``[k, nby, nbx, 2]``."""
        region = self.region
        lo, hi = (np.ascontiguousarray(np.moveaxis(x, -1, 0)) for x in (lo, hi))  # [2, k, ...]
        centre, radius = _disc(lo, hi, margin)
        rcentre, rradius = _disc(_region_reduce(lo, region, np.minimum, np.inf),
                                 _region_reduce(hi, region, np.maximum, -np.inf), margin)
        rupper = _region_reduce(upper[None], region, np.maximum, -np.inf)[0]
        for flat, values in ((self.upper, upper), (self.cx, centre[0]), (self.cy, centre[1]),
                             (self.radius, radius), (self.rupper, rupper),
                             (self.rcx, rcentre[0]), (self.rcy, rcentre[1]),
                             (self.rradius, rradius)):
            rows = flat.reshape(len(self.built), -1)  # a view: rows are written in place
            rows[joints] = values.reshape(len(joints), -1)
        self.built[joints] = True

    def cells(self, js: np.ndarray, who: np.ndarray, reg: np.ndarray):
        """The global cells of regions ``reg`` of pairs ``who`` (joints ``js[who]``), with
        their pairs."""
        n = self.start[reg + 1] - self.start[reg]
        who = np.repeat(who, n)
        pos = np.arange(who.size) - np.repeat(np.cumsum(n) - n, n) + np.repeat(self.start[reg], n)
        return who, js[who] * self.nb + self.block[pos]


def _region_reduce(a: np.ndarray, region: int, fn, pad) -> np.ndarray:
    """``fn`` (``np.minimum``/``np.maximum``) over regions of ``region`` x ``region`` blocks of
    ``a [..., nby, nbx]`` (padded with ``pad`` to whole regions): ``[..., ry, rx]``."""
    nby, nbx = a.shape[-2:]
    ry, rx = -(-nby // region), -(-nbx // region)
    if (ry * region, rx * region) != (nby, nbx):
        padded = np.full((*a.shape[:-2], ry * region, rx * region), pad, dtype=a.dtype)
        padded[..., :nby, :nbx] = a
        a = padded
    t = torch.from_numpy(np.ascontiguousarray(a)).unflatten(-1, (rx, region))
    return (torch.amax if fn is np.maximum else torch.amin)(
        t.unflatten(-3, (ry, region)), dim=(-3, -1)).numpy()


@functools.lru_cache(maxsize=32)
def _layout(nby: int, nbx: int, region: int):
    """Block ids in region order (region-major, row-major inside) and each region's first
    position, for a map of ``nby`` x ``nbx`` blocks (the same for every image of a shape)."""
    by, bx = np.divmod(np.arange(nby * nbx), nbx)
    rid = (by // region) * -(-nbx // region) + bx // region
    block = np.argsort(rid, kind="stable")
    rid = rid[block]
    return block, np.searchsorted(rid, np.arange(rid[-1] + 2))


def _disc(lo: np.ndarray, hi: np.ndarray, margin: float):
    """Centre ``[2, ...]`` and radius ``[...]`` (float32) of a disc holding each box
    ``[lo, hi]`` (component planes ``[2, ...]``).

    In float32: the margin (relative to the box's size and place, about 16 float32 ulps)
    covers the rounding of the centre and of the radius, which is then rounded up."""
    centre = (lo + hi) * np.float32(0.5)
    half = (hi - lo) * np.float32(0.5)
    radius = np.sqrt(half[0] * half[0] + half[1] * half[1])
    radius += np.float32(margin) * (np.abs(centre[0]) + np.abs(centre[1]) + radius
                                    + np.float32(1))
    return centre, np.nextafter(radius, np.float32(np.inf))
