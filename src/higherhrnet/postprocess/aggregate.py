"""Flip-test aggregation of the two network passes, fast (docs/reference.md, "Flip test").

Inputs per pass: ``out0`` ``[1,2J,H/4,W/4]`` (J heatmaps + J tags; the ONNX graph's
``output1``) and ``out1`` ``[1,J,H/2,W/2]`` (heatmaps); J = 17 (COCO) or 14 (CrowdPose), with
the keypoint set's flip index (:mod:`higherhrnet.data.keypoints`).  Steps, exactly as the reference:

1. bilinear-resize ``out0`` x2 (``align_corners=False``) to ``out1``'s size;
2. flipped pass only: flip both outputs back along width and permute channels by
   the flip index;
3. ``hm = (out0_up[:J] + out1[:J]) / 2``, ``tag = out0_up[J:]`` (tags: output0 only);
4. project to the network input size (another x2 bilinear resize) and
   ``final_heatmaps = (hm_normal + hm_flip) / 2``; ``tags = stack([tag_n, tag_f], -1)``.

:func:`.reference.aggregate` is the dense reference result.  :class:`Aggregated` is what the
fast path uses (a :class:`.maps.Maps`): the full-resolution heatmaps only in the tiles
grouping looks at (:mod:`.heatmap_tiles`, bit-identical to the dense maps) and tags only at
the points grouping asks for, evaluated from the half-resolution tag maps with torch's bilinear
arithmetic emulated bit for bit (:func:`upsample_at`, :func:`fma32`), which saves most of the
upsampling.  Step 2 is never done as a copy: the flipped pass's half-resolution maps are
read turned back by index (:class:`.heatmap_tiles.TurnedBack`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data.keypoints import COCO
from .heatmap_tiles import LazyHeatmaps, TurnedBack, Upright, pass_maps, window_reduce


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False)`` on ``[C,h,w]``."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]
    return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)[0].numpy()


def flip_permutation(flip_index) -> list[int]:
    """output0's channel permutation of a flipped pass: heatmaps, then tags, each by
    ``flip_index``."""
    n = len(flip_index)
    return list(flip_index) + [n + c for c in flip_index]


def raw_pass(out0, out1, n_joints: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass at output1's resolution, in the pass's own orientation and channel order:
    heatmaps ``(up(out0[:J]) + out1) / 2`` and tags ``up(out0[J:])``, ``[J,h2,w2]`` torch.

    For the flipped pass these are the reference's maps before they are flipped back and
    permuted (:func:`half_pass`): the resize is per channel and the rest elementwise, so
    both commute exactly with the reference's order.  The fast path reads them turned back
    through :class:`.heatmap_tiles.TurnedBack` instead of copying them."""
    o0 = torch.from_numpy(np.ascontiguousarray(out0, dtype=np.float32))
    o1 = torch.from_numpy(np.ascontiguousarray(np.asarray(out1, dtype=np.float32)[0]))
    up = F.interpolate(o0, size=tuple(o1.shape[1:]), mode="bilinear", align_corners=False)[0]
    hm = up[:n_joints].add_(o1[:n_joints]).div_(2)  # in place: no fresh large maps
    return hm, up[n_joints:]


def half_pass(out0, out1, flipped: bool, flip_index=COCO.flip_index):
    """One pass at output1's resolution as the reference has it: heatmaps and tags
    ``[J,h2,w2]`` (the flipped pass flipped back along width, channels by ``flip_index``)."""
    hm, tag = raw_pass(out0, out1, len(flip_index))
    if flipped:
        return TurnedBack(hm, flip_index).whole(), TurnedBack(tag, flip_index).whole()
    return hm, tag.contiguous()


def _axis_taps(coord: np.ndarray, n_src: int):
    """Source indices and weights of a x2 align_corners=False resize along one axis."""
    src = np.maximum((coord.astype(np.float32) + np.float32(0.5)) * np.float32(0.5)
                     - np.float32(0.5), np.float32(0))
    i0 = np.floor(src).astype(np.intp)
    lam = (src - i0).astype(np.float32)
    i1 = np.minimum(i0 + 1, n_src - 1)
    return i0, i1, np.float32(1) - lam, lam


def fma32(a: np.ndarray, w: np.ndarray, p: np.ndarray) -> np.ndarray:
    """float32 ``fma(a, w, p)`` (``a * w + p`` rounded once), bit-exactly, for finite inputs.

    Why exact: the product of two float32 numbers (24-bit significands) has at most 48 bits,
    so it is exact in float64.  The float64 sum ``s`` may round; TwoSum gives its exact
    error, and nudging an inexact ``s`` with an even last bit one ulp toward the error makes
    it the sum *rounded to odd*.  Rounding a round-to-odd result with 53 bits to 24 bits
    (53 >= 24 + 2) equals rounding the exact sum once (Boldo & Melquiond, "Emulation of
    FMA and correctly rounded sums: proved algorithms using rounding to odd", 2008), so the
    final cast is the float32 fma.  Plain float64 evaluation would round twice and can
    differ when the first rounding lands on a float32 midpoint.
    """
    x = a.astype(np.float64) * w.astype(np.float64)  # exact
    y = p.astype(np.float64)
    s = x + y
    back = s - x
    err = (x - (s - back)) + (y - back)  # TwoSum: s + err == x + y exactly
    even = (s.view(np.int64) & 1) == 0
    s = np.where((err != 0) & even, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s.astype(np.float32)


def _lerp(t0, w0, t1, w1):
    """One level of torch's CPU bilinear kernel: ``fma(t0, w0, t1 * w1)`` in float32
    (the compiler contracts ``t0 * w0 + t1 * w1`` into this; checked by
    :func:`emulation_is_exact`)."""
    return fma32(t0, w0, t1 * w1)


def upsample_at(src: np.ndarray, ch: np.ndarray | int, ys: np.ndarray, xs: np.ndarray):
    """Values of torch's x2 bilinear upsample of ``src [C,h,w]`` at output points (ys, xs),
    bit-identical (columns within each source row first, then rows, as the kernel does)."""
    return upsample_points((Upright(torch.from_numpy(np.asarray(src))),), ch, ys, xs)[0]


def upsample_points(srcs, ch, ys, xs) -> np.ndarray:
    """:func:`upsample_at` of several maps ``[C,h,w]`` (:class:`.heatmap_tiles.Upright` or
    :class:`.heatmap_tiles.TurnedBack`) of one shape at the same points:
    ``[len(srcs), n]``, in two vectorised fma steps (the same operations per element)."""
    ys, xs = np.asarray(ys), np.asarray(xs)
    _, h, w = srcs[0].shape
    y0, y1, wy0, wy1 = _axis_taps(ys, h)
    x0, x1, wx0, wx1 = _axis_taps(xs, w)
    left, right = [], []
    for s in srcs:  # one flat take per tap (faster than 3-d fancy indexing)
        flat = s.values.reshape(-1)
        base, c0, c1 = s.locate(ch, x0, x1)  # channels and columns as stored
        for y in (y0, y1):
            row = base + y * w
            left.append(flat.take(row + c0))
            right.append(flat.take(row + c1))
    left, right = np.stack(left), np.stack(right)
    rows = _lerp(left, wx0, right, wx1)  # per map: the source rows y0 and y1
    return _lerp(rows[0::2], wy0, rows[1::2], wy1)


def upsample_dense(src: np.ndarray) -> np.ndarray:
    """The x2 upsample of one map ``[h,w]``, bit-identical to :func:`upsample_at` everywhere
    (the same float operations on whole rows)."""
    h, w = src.shape
    x0, x1, wx0, wx1 = _axis_taps(np.arange(2 * w), w)
    y0, y1, wy0, wy1 = _axis_taps(np.arange(2 * h), h)
    rows = _lerp(src[:, x0], wx0, src[:, x1], wx1)
    return _lerp(rows[y0], wy0[:, None], rows[y1], wy1[:, None])


#: torch resizes small outputs (height + width <= 128) with another, separable kernel; maps
#: up to this size get their tags from torch itself (they are tiny anyway).
SMALL_OUTPUT = 256
_EMULATION_EXACT: bool | None = None


def emulation_is_exact() -> bool:
    """Whether :func:`upsample_at` equals torch's resize bit for bit here (checked once per
    process on a random probe with a wide range of magnitudes, borders included)."""
    global _EMULATION_EXACT
    if _EMULATION_EXACT is None:
        rng = np.random.default_rng(0)
        src = (rng.normal(0, 3, (2, 83, 61)) * np.exp(rng.normal(0, 6, (2, 83, 61))))
        src = src.astype(np.float32)
        ref = resize_bilinear(src, (166, 122))
        _EMULATION_EXACT = all(np.array_equal(upsample_dense(s), r) for s, r in zip(src, ref))
    return _EMULATION_EXACT


class Aggregated:
    """Aggregated maps of one image for the fast parser.

    ``heatmaps``: the final heatmaps ``[J,H,W]`` computed by tiles on demand
    (:class:`LazyHeatmaps`); ``det`` is the whole map (computed at first access).  Tags
    are evaluated on demand with :meth:`tags_at`; a joint asked for many points gets its
    dense tag map cached.
    """

    #: points asked for one joint before its dense tags are built: emulating a point costs
    #: about 0.3 us, torch's resize of one joint's two maps (768x512) about 1.5 ms plus the copy
    DENSE_AFTER = 10_000

    def __init__(self, heatmaps: LazyHeatmaps, tag_n_half, tag_f_half,
                 tag_quarter: np.ndarray | None = None):
        self.heatmaps = heatmaps
        # each pass's half-resolution tags: a tensor (upright), Upright or TurnedBack
        self._half = (pass_maps(tag_n_half), pass_maps(tag_f_half))
        self._quarter = tag_quarter
        self._asked = np.zeros(heatmaps.shape[0], dtype=np.int64)
        n, h, w = heatmaps.shape
        # whole tag maps (both passes) of the joints asked for many points; pages of joints
        # never filled are never touched, so this costs no memory for them
        self._dense = np.empty((n, 2, h * w), dtype=np.float32)
        self._filled = np.zeros(n, dtype=bool)
        self._bounds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if h + w <= SMALL_OUTPUT or not emulation_is_exact():
            tags = resize_bilinear(torch.cat([t.whole() for t in self._half]).numpy(), (h, w))
            self._dense[:] = np.stack([tags[:n], tags[n:]], 1).reshape(n, 2, -1)
            self._filled[:] = True

    @property
    def det(self) -> np.ndarray:
        """The dense final heatmaps ``[J,H,W]`` (the fast path does not need them)."""
        return self.heatmaps.materialize()

    @classmethod
    def from_outputs(cls, normal0, normal1, flipped0, flipped1,
                     flip_index=COCO.flip_index) -> "Aggregated":
        """Both passes' raw outputs (``flip_index``: the keypoint set's, COCO by default)."""
        n = len(flip_index)
        hm_n, tag_n = raw_pass(normal0, normal1, n)
        hm_f, tag_f = raw_pass(flipped0, flipped1, n)  # read turned back, never copied so
        tags_f = flip_permutation(flip_index)[n:]
        quarter = np.empty((2, n, *np.shape(normal0)[2:]), dtype=np.float32)  # [pass, joint]
        quarter[0] = np.asarray(normal0)[0, n:]
        flipped_tags = torch.from_numpy(np.asarray(flipped0, dtype=np.float32)[0, tags_f])
        quarter[1] = torch.flip(flipped_tags, [2])  # ~2x numpy's reversed fancy copy
        return cls(LazyHeatmaps(hm_n, TurnedBack(hm_f, flip_index)), Upright(tag_n),
                   TurnedBack(tag_f, flip_index), quarter)

    def tags_at(self, j, flat: np.ndarray) -> np.ndarray:
        """Tag vectors ``[..., 2]`` of joint(s) ``j`` (an int or an array broadcast with
        ``flat``) at flat (row-major) input-resolution indices, bit-identical to the dense
        reference tags.  Joints asked for more than ``DENSE_AFTER`` points get their whole
        map cached."""
        if np.ndim(j) == 0:  # one joint: no per-point joint indices
            return self._tags_of_joint(int(j), np.asarray(flat, dtype=np.intp))
        js, flat = np.broadcast_arrays(np.asarray(j, dtype=np.intp),
                                       np.asarray(flat, dtype=np.intp))
        shape, js, flat = flat.shape, js.ravel(), flat.ravel()
        self._asked += np.bincount(js, minlength=self._asked.size)
        for k in np.flatnonzero((self._asked > self.DENSE_AFTER) & ~self._filled):
            self._fill(k)
        if self._filled[js].all():
            return self._dense[js, :, flat].reshape(*shape, 2)
        out = np.empty((flat.size, 2), dtype=np.float32)
        cached = self._filled[js]
        out[cached] = self._dense[js[cached], :, flat[cached]]
        rest = np.flatnonzero(~cached)
        if rest.size:
            ys, xs = np.divmod(flat[rest], self.heatmaps.shape[2])
            out[rest] = upsample_points(self._half, js[rest], ys, xs).T
        return out.reshape(*shape, 2)

    def _tags_of_joint(self, j: int, flat: np.ndarray) -> np.ndarray:
        """:meth:`tags_at` for one joint (the same values, fewer passes over the points)."""
        self._asked[j] += flat.size
        if not self._filled[j] and self._asked[j] <= self.DENSE_AFTER:
            ys, xs = np.divmod(flat, self.heatmaps.shape[2])
            return np.moveaxis(upsample_points(self._half, j, ys, xs), 0, -1)
        if not self._filled[j]:
            self._fill(j)
        return np.moveaxis(self._dense[j][:, flat], 0, -1)

    def _fill(self, j: int) -> None:
        """Cache joint ``j``'s whole tag maps: torch's resize of both passes' maps, the
        reference's own kernel (not a small output here, see SMALL_OUTPUT), faster than the
        emulation on whole maps."""
        up = resize_bilinear(torch.stack([t.channel(j) for t in self._half]).numpy(),
                             self.heatmaps.shape[1:])
        self._dense[j] = up.reshape(2, -1)
        self._filled[j] = True

    def tag_block_bounds(self, j, block: int):
        """Per ``block`` x ``block`` input-resolution block of joint(s) ``j`` (an int or an
        index array): min and max of each tag component ``[..., H/block, W/block, 2]``
        (computed once per joint, for the joints of one call together).

        A x2 bilinear resize (align_corners=False) gives each output pixel a convex
        combination, rounded once, of its source neighbours, so it stays within their range
        exactly; the two resizes from the network's quarter-resolution tags keep every tag of
        a block within the range of the quarter-resolution window ``[k*b/4 - 1, k*b/4 + b/4]``
        (four times fewer pixels to reduce than at half resolution)."""
        n, h, w = self.heatmaps.shape
        if block not in self._bounds:  # [component (pass), joint, H/block, W/block], done
            shape = (2, n, h // block, w // block)
            self._bounds[block] = (np.empty(shape, np.float32), np.empty(shape, np.float32),
                                   np.zeros(n, dtype=bool))
        lo, hi, done = self._bounds[block]
        need = np.unique(j)
        need = need[~done[need]]
        if need.size:
            if self._quarter is not None and block % 4 == 0:
                srcs, hb = self._quarter, block // 4
            else:
                srcs, hb = torch.stack([t.whole() for t in self._half]).numpy(), block // 2
            srcs = srcs if need.size == n else srcs[:, need]
            lo[:, need] = window_reduce(srcs, hb, np.minimum)
            hi[:, need] = window_reduce(srcs, hb, np.maximum)
            done[need] = True
        return np.moveaxis(lo[:, j], 0, -1), np.moveaxis(hi[:, j], 0, -1)
