"""Final heatmaps computed only where grouping looks: exact tiles of the input-resolution map.

The final heatmaps are ``(up(hm_n) + up(hm_f)) / 2`` where ``up`` is torch's x2 bilinear
resize (``align_corners=False``) of each pass's half-resolution heatmaps.  On a real image
almost all of that map is below the detection threshold and decides nothing, yet
resizing it was 40% of the postprocess time.  :class:`LazyHeatmaps` computes it in tiles
of ``TILE`` x ``TILE`` input pixels, only those that can matter:

* **Exact tiles.**  A tile is computed by torch's own resize of its source window plus a
  1-pixel halo (clamped at the map border, where torch clamps too).  A x2 resize reads, for
  each output pixel, its 2x2 source neighbours with weights that depend only on the
  pixel's parity, so the crop gives the same operands; torch runs the same kernel on
  crops as on the whole map as long as ``height + width`` of the output exceeds 128 (below
  that it switches to its channels-last kernel, whose float operations differ): tiles are
  large enough, and the last row/column of tiles is shifted back to end at the border
  rather than being cut short.  :func:`crops_are_exact` checks this bit for bit once per
  process on a random probe; if it ever fails, the maps are computed densely as before.
* **Bounds.**  Each output pixel is a convex combination of its 2x2 source pixels, so a
  tile's maximum is at most the mean of both passes' source-window maxima (plus a
  relative margin that covers float rounding).  A tile whose bound does not exceed the
  detection threshold holds no candidate and no NMS competitor of one (a competitor must
  exceed a candidate, hence the threshold); it is computed only when something needs
  its exact values (adjust and refine ask through :meth:`LazyHeatmaps.at`).

:class:`LazyHeatmaps` implements :class:`.maps.Heatmaps`; :func:`dense_peaks` is NMS over a
dense map (the fallback, and what tests use over dense arrays).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
import torch.nn.functional as F

BOUND_BLOCK = 8  # input pixels: block bounds (refine's blocks), from which tile bounds follow
TILE = 64  # input pixels: interior crops of 34x34 sources give 68x68 outputs (68 + 68 > 128)
DENSE_FRACTION = 0.3  # above this share of tiles needed, one dense resize is cheaper
_MARGIN = 1e-6  # relative: far above the few float32 roundings between sources and output


def project(hm_n: torch.Tensor, hm_f: torch.Tensor) -> np.ndarray:
    """Both passes' heatmaps ``[C,h,w]`` to the input size, averaged: ``[C,2h,2w]``."""
    size = (2 * hm_n.shape[-2], 2 * hm_n.shape[-1])
    up = F.interpolate(torch.stack([hm_n, hm_f]), size=size, mode="bilinear", align_corners=False)
    return up[0].add_(up[1]).div_(2).numpy()


def block_reduce(a: np.ndarray, b: int, fn) -> np.ndarray:
    """``fn``-reduce ``a [H,W,...]`` over ``b`` x ``b`` blocks (H, W multiples of b) with
    strided slices (much faster than small-axis reductions)."""
    cols = a[:, 0::b].copy()
    for k in range(1, b):
        fn(cols, a[:, k::b], out=cols)
    out = cols[0::b].copy()
    for k in range(1, b):
        fn(out, cols[k::b], out=out)
    return out


def window_reduce(a: np.ndarray, hb: int, fn) -> np.ndarray:
    """Reduce ``a [..., h, w]`` over windows of rows and columns ``[k*hb - 1, k*hb + hb]``
    (clamped) for each block k: the source pixels a x2 bilinear upsample reads for output
    pixels ``[2*k*hb, 2*k*hb + 2*hb)``.  ``fn`` is ``np.maximum`` or ``np.minimum``.

    Rows first, then columns of the ``hb`` times smaller result.  Along each axis, the
    ``hb`` pixels of each block are reduced by torch's ``amax``/``amin`` over a reshaped view
    (one contiguous pass, several times faster than strided numpy slices), then the two
    halo pixels are folded in.  Min and max select one of their operands, so any order of
    evaluation gives the same values.  Clamped halo indices repeat a pixel of the window,
    so they are simply left out.
    """
    nby, nbx = a.shape[-2] // hb, a.shape[-1] // hb
    t = torch.from_numpy(np.ascontiguousarray(a))
    return _reduce_axis(_reduce_axis(t, -2, nby, hb, fn), -1, nbx, hb, fn).numpy()


def _reduce_axis(t: torch.Tensor, dim: int, nb: int, hb: int, fn) -> torch.Tensor:
    """``fn`` over indices ``[k*hb - 1, k*hb + hb]`` (within bounds) of ``dim`` (negative),
    k < nb."""
    block, pair = (torch.amax, torch.maximum) if fn is np.maximum else (torch.amin, torch.minimum)
    out = block(t.narrow(dim, 0, nb * hb).unflatten(dim, (nb, hb)), dim=dim)
    return _fold_halo(t, dim, nb, hb, out, pair)


def _fold_halo(t: torch.Tensor, dim: int, nb: int, hb: int, out: torch.Tensor, pair):
    """Fold the halo pixels ``k*hb - 1`` and ``k*hb + hb`` of ``t`` into the block
    reductions ``out`` (in place) with ``pair`` (``torch.minimum`` or ``torch.maximum``)."""

    def every_hb(start: int, stop: int) -> torch.Tensor:
        index = [slice(None)] * t.dim()
        index[dim] = slice(start, min(stop, t.shape[dim]), hb)
        return t[tuple(index)]

    left = every_hb(hb - 1, (nb - 1) * hb)  # index k*hb - 1 for k >= 1
    if left.shape[dim]:
        o = out.narrow(dim, 1, left.shape[dim])
        pair(o, left, out=o)
    right = every_hb(hb, (nb + 1) * hb)  # index k*hb + hb where it exists
    if right.shape[dim]:
        o = out.narrow(dim, 0, right.shape[dim])
        pair(o, right, out=o)
    return out


def tile_window_max(src: np.ndarray, n_out: tuple[int, int]) -> np.ndarray:
    """Per tile of :class:`LazyHeatmaps` (starts :func:`_starts` of the output size
    ``n_out``): the maximum of the source pixels its x2 resize reads ``[C, tiles_y, tiles_x]``.

    Tiles starting at multiples of ``TILE`` read source windows ``[k*TILE/2 - 1, k*TILE/2 +
    TILE/2]``: :func:`window_reduce`'s windows with ``hb = TILE/2``; a last tile shifted
    back to end at the border reads the last ``TILE/2 + 1`` source pixels.
    """
    half = TILE // 2
    t = torch.from_numpy(np.ascontiguousarray(src))
    for dim, size in ((-2, n_out[0]), (-1, n_out[1])):
        n_src = t.shape[dim]
        parts = [_reduce_axis(t, dim, n_src // half, half, np.maximum)]
        if size % TILE:  # the shifted last tile
            lo = max(n_src - half - 1, 0)
            parts.append(t.narrow(dim, lo, n_src - lo).amax(dim=dim, keepdim=True))
        t = torch.cat(parts, dim=dim)
    return t.numpy()


def _tiles_of_blocks(m: np.ndarray, g: int) -> np.ndarray:
    """Maxima ``[C, tiles_y, tiles_x]`` over groups of ``g`` x ``g`` blocks of ``m [C, nby,
    nbx]``: the tiles of :func:`_starts` (a shifted last tile: the last ``g`` blocks)."""
    t = torch.from_numpy(m)
    for dim in (1, 2):
        n = t.shape[dim]
        parts = [t.narrow(dim, 0, n - n % g).unflatten(dim, (n // g, g)).amax(dim=dim + 1)]
        if n % g:
            parts.append(t.narrow(dim, n - g, g).amax(dim=dim, keepdim=True))
        t = torch.cat(parts, dim=dim)
    return t.numpy()


def tile_window_peaks(tiles: np.ndarray, i, ty, tx, pad: int) -> np.ndarray:
    """Whether ``tiles[i, ty, tx]`` equals the max of its ``(2*pad+1)^2`` window clipped to
    the tile (``max_pool2d``'s window where the tile touches the image border).

    A clipped offset lands on a pixel of the clipped window, so clipping each neighbour's
    coordinates is the clipped window (:func:`_window_rings`: nearest neighbours first)."""
    flat = tiles.reshape(-1)
    base = i * (TILE * TILE)
    v = flat[base + ty * TILE + tx]
    keep = np.ones(v.size, dtype=bool)
    for dy, dx in _window_rings(pad):
        sel = np.flatnonzero(keep)
        if not sel.size:
            break
        ny = np.clip(ty[sel][None] + dy[:, None], 0, TILE - 1)
        nx = np.clip(tx[sel][None] + dx[:, None], 0, TILE - 1)
        keep[sel] = (flat[base[sel][None] + ny * TILE + nx] <= v[sel][None]).all(axis=0)
    return keep


def _window_rings(pad: int):
    """The offsets ``(dy, dx)`` of a ``(2*pad+1)^2`` window without its centre, in two
    rings: the 4 nearest neighbours, which reject most pixels that are not a peak (a blob's
    slopes), then the rest, looked at only for the pixels left."""
    d = np.arange(-pad, pad + 1)
    dy, dx = np.repeat(d, d.size), np.tile(d, d.size)
    near = np.abs(dy) + np.abs(dx) == 1
    far = ~near & ((dy != 0) | (dx != 0))
    return (dy[near], dx[near]), (dy[far], dx[far])


def _upper(bn: np.ndarray, bf: np.ndarray) -> np.ndarray:
    """An upper bound (float64) of ``(up_n + up_f) / 2`` from bounds of each pass's values."""
    bn, bf = bn.astype(np.float64), bf.astype(np.float64)
    return (bn + bf) / 2 + _MARGIN * (np.abs(bn) + np.abs(bf)) + 1e-30


def _starts(n_out: int) -> np.ndarray:
    """Tile starts along one axis; the last tile ends at the border (may overlap)."""
    return np.minimum(np.arange(0, n_out, TILE), n_out - TILE)


class Upright:
    """A pass's half-resolution maps ``[C,h,w]`` in the normal orientation and joint order
    (the normal pass), read through the interface :class:`TurnedBack` shares: the fast path
    reads both passes alike, whichever way each is stored."""

    def __init__(self, maps: torch.Tensor):
        self.raw = maps.contiguous()
        self.values = self.raw.numpy()
        self.shape = tuple(self.raw.shape)

    def whole(self) -> torch.Tensor:
        """The maps ``[C,h,w]``."""
        return self.raw

    def channel(self, j: int) -> torch.Tensor:
        """Channel ``j`` ``[h,w]``."""
        return self.raw[j]

    def locate(self, ch, *xs):
        """Offsets of channels ``ch`` in ``values`` flattened, and the stored columns of
        columns ``xs``: ``values.reshape(-1)[base + y * w + col]`` reads ``(ch, y, x)``."""
        return (np.asarray(ch) * (self.shape[1] * self.shape[2]), *xs)

    def crops(self, js, r0, c0, hc: int, wc: int) -> np.ndarray:
        """Windows ``[n, hc, wc]`` of channels ``js`` at rows ``r0``, columns ``c0``."""
        return sliding_window_view(self.values, (hc, wc), axis=(1, 2))[js, r0, c0]

    def window_reduce(self, hb: int, fn) -> np.ndarray:
        """:func:`window_reduce` of the maps."""
        return window_reduce(self.values, hb, fn)


class TurnedBack:
    """A flipped pass's half-resolution maps ``[C,h,w]`` as computed (``raw``: the flipped
    input's orientation and channel order), read as the reference's turned-back maps
    ``flip(raw[flip_index], width)`` without making them: only indices change, so every
    value is the reference's.  Turning both passes' 17-channel maps back cost about 2 ms
    an image in copies, while the fast path reads a few tiles and points of them.  The
    interface is :class:`Upright`'s."""

    def __init__(self, raw: torch.Tensor, flip_index):
        self.raw = raw.contiguous()
        self.values = self.raw.numpy()
        self.perm = np.asarray(flip_index, dtype=np.intp)
        self.shape = tuple(self.raw.shape)
        self._whole: torch.Tensor | None = None

    def whole(self) -> torch.Tensor:
        """The turned-back maps ``[C,h,w]`` (made once)."""
        if self._whole is None:
            self._whole = torch.flip(self.raw[torch.from_numpy(self.perm)], [2])
        return self._whole

    def channel(self, j: int) -> torch.Tensor:
        """Channel ``j`` turned back ``[h,w]`` (a new tensor)."""
        return torch.flip(self.raw[int(self.perm[j])], [1])

    def locate(self, ch, *xs):
        """:meth:`Upright.locate`: permuted channels, mirrored columns."""
        w = self.shape[2]
        return (self.perm[ch] * (self.shape[1] * w), *(w - 1 - x for x in xs))

    def crops(self, js, r0, c0, hc: int, wc: int) -> np.ndarray:
        """Windows ``[n, hc, wc]`` of the turned-back channels ``js`` at rows ``r0``, columns
        ``c0`` (a reversed view of the raw windows)."""
        win = sliding_window_view(self.values, (hc, wc), axis=(1, 2))
        return win[self.perm[js], r0, self.shape[2] - c0 - wc][..., ::-1]

    def window_reduce(self, hb: int, fn) -> np.ndarray:
        """:func:`window_reduce` of the turned-back maps (width a multiple of ``hb``: the
        windows are then mirror images of each other, window ``k`` of ``nb - 1 - k``)."""
        if self.shape[2] % hb:
            return window_reduce(self.whole().numpy(), hb, fn)
        return np.ascontiguousarray(window_reduce(self.values, hb, fn)[self.perm][..., ::-1])


def pass_maps(maps) -> "Upright | TurnedBack":
    """A pass's maps as the fast path reads them: a tensor is taken as upright."""
    return maps if isinstance(maps, (Upright, TurnedBack)) else Upright(maps)


def copy_into(out: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``m`` written into the flat buffer ``out``, returned with ``m``'s shape."""
    out.reshape(m.shape)[...] = m
    return out.reshape(m.shape)


class LazyHeatmaps:
    """The final heatmaps ``[C,H,W]`` of two passes' half-resolution heatmaps, by tiles."""

    def __init__(self, hm_n, hm_f, check: bool = True):
        # each pass: a tensor (upright) or its maps read through Upright/TurnedBack
        self._src = (pass_maps(hm_n), pass_maps(hm_f))
        c, h, w = self._src[0].shape
        self.shape = (c, 2 * h, 2 * w)
        self._ys, self._xs = _starts(2 * h), _starts(2 * w)
        self._dense: np.ndarray | None = None
        self._block_bounds: dict[int, np.ndarray] = {}
        self._block_src_max: dict[int, list] = {}
        self._ready_above: float | None = None  # tiles that may exceed this are computed
        if min(h, w) < TILE // 2 or (check and not crops_are_exact()):
            self.materialize()
            return
        # tile-major storage: a computed tile touches 4 pages, the rest is never touched
        self._buf = np.empty((c, self._ys.size, self._xs.size, TILE, TILE), dtype=np.float32)
        self._done = np.zeros((c, self._ys.size, self._xs.size), dtype=bool)
        self._bounds = None

    # ------------------------------------------------------------------ dense fallback
    def materialize(self) -> np.ndarray:
        """The whole map (one torch resize, exactly the reference computation)."""
        if self._dense is None:
            self._dense = project(*(src.whole() for src in self._src))
        return self._dense

    def joint_map(self, j: int, out: np.ndarray | None = None) -> np.ndarray:
        """The dense map ``[H,W]`` of joint ``j`` (one resize of that channel: the same
        per-channel kernel as :meth:`materialize`), written into ``out`` if given."""
        if self._dense is not None:
            return self._dense[j] if out is None else copy_into(out, self._dense[j])
        n, f = (F.interpolate(t[None, None], size=self.shape[1:], mode="bilinear",
                              align_corners=False)[0, 0]
                for t in (src.channel(j) for src in self._src))
        if out is None:
            return n.add_(f).div_(2).numpy()
        return torch.add(n, f, out=torch.from_numpy(out).view(n.shape)).div_(2).numpy()

    @property
    def is_dense(self) -> bool:
        return self._dense is not None

    # ------------------------------------------------------------------ tiles
    def _tile_of(self, flat: np.ndarray):
        ys, xs = np.divmod(flat, self.shape[2])
        return (np.minimum(ys // TILE, self._ys.size - 1),
                np.minimum(xs // TILE, self._xs.size - 1), ys, xs)

    def _stored(self, j: int, ty, tx, ys, xs) -> np.ndarray:
        return self._buf[j, ty, tx, ys - self._ys[ty], xs - self._xs[tx]]

    def tile_bounds(self) -> np.ndarray:
        """Upper bounds ``[C, tiles_y, tiles_x]`` (float64) of each tile's values."""
        if self._bounds is None:
            blocks = self._pass_block_max(BOUND_BLOCK)
            if blocks is not None:  # a tile's window is the union of its blocks' windows
                per_pass = [_tiles_of_blocks(m, TILE // BOUND_BLOCK) for m in blocks]
            else:
                per_pass = [tile_window_max(src.whole().numpy(), self.shape[1:])
                            for src in self._src]
            self._bounds = _upper(*per_pass)
        return self._bounds

    def _pass_block_max(self, b: int):
        """Per pass, the maximum of the source window each ``b`` x ``b`` output block reads
        ``[C, H/b, W/b]`` (once), or None when ``b`` does not divide the map."""
        if self.shape[1] % b or self.shape[2] % b:
            return None
        if b not in self._block_src_max:
            self._block_src_max[b] = [src.window_reduce(b // 2, np.maximum)
                                      for src in self._src]
        return self._block_src_max[b]

    def ensure(self, js: np.ndarray, ty: np.ndarray, tx: np.ndarray) -> None:
        """Compute the tiles ``(js, ty, tx)`` that are not computed yet."""
        if self._dense is not None:
            return
        keep = ~self._done[js, ty, tx]
        if not keep.any():
            return
        want = np.zeros_like(self._done)
        want[js[keep], ty[keep], tx[keep]] = True  # a scatter, not a sort of (joint, tile) rows
        tiles = np.argwhere(want)
        h, w = self._src[0].shape[1:]
        y0, x0 = self._ys[tiles[:, 1]], self._xs[tiles[:, 2]]
        r0, c0 = np.maximum(y0 // 2 - 1, 0), np.maximum(x0 // 2 - 1, 0)
        r1, c1 = np.minimum(y0 // 2 + TILE // 2 + 1, h), np.minimum(x0 // 2 + TILE // 2 + 1, w)
        # crops of one shape go through one resize: (height, width, offsets) as one key
        # (each at most TILE/2 + 2 < 256)
        geometry = (((r1 - r0) * 256 + (c1 - c0)) * 256 + y0 - 2 * r0) * 256 + x0 - 2 * c0
        keys, group = np.unique(geometry, return_inverse=True)
        for k, key in enumerate(keys.tolist()):
            sel = np.flatnonzero(group == k) if keys.size > 1 else slice(None)
            t = tiles[sel]
            shape = (key >> 24, (key >> 16) & 255, (key >> 8) & 255, key & 255)
            self._buf[t[:, 0], t[:, 1], t[:, 2]] = self._compute(t[:, 0], r0[sel], c0[sel],
                                                                 *shape)
        self._done[tiles[:, 0], tiles[:, 1], tiles[:, 2]] = True

    def _compute(self, js, r0, c0, hc: int, wc: int, oy: int, ox: int) -> None:
        # crops [n, hc, wc] as rows of a window view (much faster than per-pixel indices)
        crops = np.concatenate([src.crops(js, r0, c0, hc, wc) for src in self._src])
        up = F.interpolate(torch.from_numpy(crops)[:, None], size=(2 * hc, 2 * wc),
                           mode="bilinear", align_corners=False)[:, 0]
        n = len(js)
        return up[:n].add_(up[n:]).div_(2)[:, oy: oy + TILE, ox: ox + TILE].numpy()

    # ------------------------------------------------------------------ queries
    def prepare(self, threshold: float) -> None:
        """Compute every tile that may hold a value above ``threshold`` (or everything,
        if that is most of the map)."""
        if self._dense is not None or self._ready_above is not None and \
                self._ready_above <= threshold:
            return
        need = self.tile_bounds() > threshold
        if need.mean() > DENSE_FRACTION:
            self.materialize()
            return
        self.ensure(*np.nonzero(need))
        self._ready_above = threshold

    def above(self, j: int, threshold: float) -> np.ndarray:
        """Ascending flat indices of joint ``j``'s pixels with a value above ``threshold``."""
        self.prepare(threshold)
        if self._dense is not None:
            return np.flatnonzero(self._dense[j] > threshold)
        w = self.shape[2]
        found = []
        for a, b in zip(*np.nonzero(self.tile_bounds()[j] > threshold)):
            ty, tx = np.nonzero(self._buf[j, a, b] > threshold)
            found.append((ty + self._ys[a]) * w + tx + self._xs[b])
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.intp)

    def above_all(self, threshold: float, nms_pad: int | None = None):
        """All joints' pixels above ``threshold``: ``(joints, flat)`` sorted by joint, then
        flat index (one pass over the computed tiles instead of one per joint).

        With ``nms_pad``, also ``(decided, peak)`` per pixel: whether its NMS window
        (``2*nms_pad + 1`` square) lies inside the tile it was found in, or is cut only by
        the image border, where the reference's max-pool pads with -inf too; and, where
        decided, whether the pixel equals its window's maximum (:func:`tile_window_peaks`).
        Undecided pixels are near an inner tile edge and need :meth:`above_or_low`.
        """
        self.prepare(threshold)
        n, h, w = self.shape
        if self._dense is not None:
            js, flat = np.nonzero(self._dense.reshape(n, -1) > threshold)
            if nms_pad is None:
                return js, flat
            return js, flat, np.zeros(js.size, dtype=bool), np.zeros(js.size, dtype=bool)
        tj, ta, tb = np.nonzero(self.tile_bounds() > threshold)
        tiles = self._buf[tj, ta, tb]
        # flat indices, then divmod: ~10x faster than a 3-d np.nonzero
        i, ty = np.divmod(np.flatnonzero(tiles > threshold), TILE * TILE)
        ty, tx = np.divmod(ty, TILE)
        key = tj[i] * (h * w) + (ty + self._ys[ta[i]]) * w + tx + self._xs[tb[i]]
        # unique: shifted border tiles overlap; keep each pixel's first occurrence
        key, first = np.unique(key, return_index=True)
        if nms_pad is None:
            return np.divmod(key, h * w)
        i, ty, tx = i[first], ty[first], tx[first]
        y0, x0 = self._ys[ta[i]], self._xs[tb[i]]
        decided = (((ty >= nms_pad) | (y0 == 0)) & ((ty < TILE - nms_pad) | (y0 + TILE == h))
                   & ((tx >= nms_pad) | (x0 == 0)) & ((tx < TILE - nms_pad) | (x0 + TILE == w)))
        peak = np.zeros(i.size, dtype=bool)
        at = np.flatnonzero(decided)
        peak[at] = tile_window_peaks(tiles, i[at], ty[at], tx[at], nms_pad)
        return (*np.divmod(key, h * w), decided, peak)

    def at(self, j, flat: np.ndarray) -> np.ndarray:
        """Exact values of joint(s) ``j`` (an int or an array broadcast with ``flat``) at
        flat indices (computing the tiles they fall in)."""
        flat = np.asarray(flat, dtype=np.intp)
        if self._dense is None:
            ty, tx, ys, xs = self._tile_of(flat)
            self.ensure(np.broadcast_to(j, ty.shape).ravel(), ty.ravel(), tx.ravel())
            return self._stored(j, ty, tx, ys, xs)
        if np.ndim(j) == 0:
            return self._dense[j].ravel()[flat]
        return self._dense.ravel()[np.asarray(j) * (self.shape[1] * self.shape[2]) + flat]

    def above_or_low(self, j, flat: np.ndarray, threshold: float) -> np.ndarray:
        """Exact values of joint(s) ``j`` where they may exceed ``threshold``, ``-inf`` where
        they cannot (tiles never computed): enough to compare against values above it."""
        self.prepare(threshold)
        flat = np.asarray(flat, dtype=np.intp)
        if self._dense is not None:
            return self.at(j, flat)
        ty, tx, ys, xs = self._tile_of(flat)
        return np.where(self._done[j, ty, tx], self._stored(j, ty, tx, ys, xs), -np.inf)

    def block_bound(self, j: int, b: int) -> np.ndarray:
        """Upper bound of each ``b`` x ``b`` block's maximum ``[H/b, W/b]`` (float64): the
        exact maxima once the map is dense; otherwise the bound of :func:`_upper` over the
        source window each block reads (computed for all joints at the first call)."""
        if self._dense is not None:
            return block_reduce(self._dense[j], b, np.maximum)
        if b not in self._block_bounds:
            self._block_bounds[b] = _upper(*self._pass_block_max(b))
        return self._block_bounds[b][j]

    def block_max(self, j, b: int, blocks: np.ndarray) -> np.ndarray:
        """Exact maxima of ``b`` x ``b`` blocks (row-major ids; ``b`` divides H and W) of
        joint(s) ``j`` (an int or an array like ``blocks``), computing the tiles they lie in."""
        w = self.shape[2]
        by, bx = np.divmod(np.asarray(blocks, dtype=np.intp), w // b)
        j = np.broadcast_to(np.asarray(j, dtype=np.intp), by.shape)
        r = np.arange(b)
        if self._dense is not None:
            flat = (by * b * w + bx * b)[:, None] + (r[:, None] * w + r[None, :]).ravel()
            return self._dense.reshape(self.shape[0], -1)[j[:, None], flat].max(axis=1)
        # a block lies in the tile holding its first pixel (TILE is a multiple of b, and a
        # shifted last tile ends at the border, a multiple of b too)
        ty, tx = np.minimum(by * b // TILE, self._ys.size - 1), np.minimum(bx * b // TILE,
                                                                         self._xs.size - 1)
        self.ensure(j, ty, tx)
        oy, ox = by * b - self._ys[ty], bx * b - self._xs[tx]
        vals = self._buf[j[:, None, None], ty[:, None, None], tx[:, None, None],
                         (oy[:, None] + r)[:, :, None], (ox[:, None] + r)[:, None, :]]
        return vals.reshape(ty.size, -1).max(axis=1)

    def peaks(self, threshold: float, nms_pad: int) -> tuple[np.ndarray, np.ndarray]:
        """All joints' NMS peaks above ``threshold``: ``(joints, flat)`` sorted by joint.

        Tiled: values are known exactly wherever they exceed the threshold; NMS is decided
        within each tile (:func:`tile_window_peaks`), except near inner tile edges, whose
        windows reach into other tiles and are gathered (:meth:`above_or_low`)."""
        self.prepare(threshold)  # may decide to compute the maps densely
        if self._dense is not None:
            return dense_peaks(self._dense, threshold, nms_pad)
        _, h, w = self.shape
        js, flat, decided, keep = self.above_all(threshold, nms_pad)
        rest = np.flatnonzero(~decided)
        js_rest = js[rest]
        keep[rest] = local_max_mask_sparse(
            lambda sel, f: self.above_or_low(js_rest[sel], f, threshold), (h, w),
            *np.divmod(flat[rest], w), nms_pad)
        return js[keep], flat[keep]


def local_max_mask(det_j: np.ndarray, ys: np.ndarray, xs: np.ndarray, pad: int) -> np.ndarray:
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


def local_max_mask_sparse(values, shape, ys: np.ndarray, xs: np.ndarray, pad: int):
    """:func:`local_max_mask` through ``values(sel, flat)`` (the values of points ``sel`` at
    flat indices broadcast with them: for the few candidates of tiled heatmaps, whose values
    are known only where they matter; :func:`_window_rings`: nearest neighbours first)."""
    h, w = shape
    v = values(np.arange(ys.size), ys * w + xs)
    keep = np.ones(ys.size, dtype=bool)
    for dy, dx in _window_rings(pad):
        sel = np.flatnonzero(keep)
        if not sel.size:
            break
        ny, nx = ys[sel][None] + dy[:, None], xs[sel][None] + dx[:, None]
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        nb = values(sel, np.where(ok, ny * w + nx, 0))
        keep[sel] = ~(ok & (nb > v[sel][None])).any(axis=0)
    return keep


def dense_peaks(det: np.ndarray, threshold: float, nms_pad: int):
    """NMS peaks above ``threshold`` of a dense ``det [C,H,W]``: ``(joints, flat)``."""
    n, _, w = det.shape
    peaks = []
    for j in range(n):
        flat = np.flatnonzero(det[j] > threshold)
        if flat.size > 200_000:  # one max-pool is cheaper than windowed gathers
            pooled = F.max_pool2d(torch.from_numpy(det[j])[None, None], 2 * nms_pad + 1, 1,
                                  nms_pad)
            flat = flat[(pooled[0, 0].numpy().ravel()[flat] == det[j].ravel()[flat])]
        elif flat.size:
            flat = flat[local_max_mask(det[j], *np.divmod(flat, w), nms_pad)]
        peaks.append(flat)
    return (np.repeat(np.arange(n), [p.size for p in peaks]),
            np.concatenate(peaks).astype(np.intp))


_EXACT: bool | None = None


def crops_are_exact() -> bool:
    """Whether tiles equal the dense resize bit for bit here (once per process): a random
    probe whose size is not a multiple of the tile, so interior, border and shifted tiles
    are all compared."""
    global _EXACT
    if _EXACT is None:
        rng = np.random.default_rng(0)
        h, w = 2 * TILE // 2 + 9, 3 * TILE // 2 + 5
        src = [torch.from_numpy(rng.normal(0, 2, (2, h, w)).astype(np.float32)) for _ in "nf"]
        lazy = LazyHeatmaps(*src, check=False)
        c, nty, ntx = lazy._done.shape
        js, ty, tx = np.meshgrid(np.arange(c), np.arange(nty), np.arange(ntx), indexing="ij")
        lazy.ensure(js.ravel(), ty.ravel(), tx.ravel())
        everywhere = np.arange(lazy.shape[1] * lazy.shape[2])
        dense = project(*src)
        _EXACT = all(np.array_equal(lazy.at(j, everywhere), dense[j].ravel()) for j in range(c))
    return _EXACT
