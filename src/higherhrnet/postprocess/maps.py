"""What the fast grouping reads from one image's aggregated maps (declared, not implied).

:class:`Maps` is implemented by :class:`.aggregate.Aggregated` (tiles and point tags
computed on demand); :class:`DenseMaps` implements it over dense arrays (the multi-scale
test's averaged maps, :mod:`.multiscale`, and crafted maps in tests).  Flat indices are row-major
over the network input size ``H x W``; ``j`` is a joint id or an array of them broadcast
with the indices.  Every value returned is bit-identical to the dense reference maps of
:func:`.reference.aggregate` (``det [17,H,W]``, ``tags [17,H,W,2]``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .heatmap_tiles import block_reduce, copy_into, dense_peaks


class Heatmaps(Protocol):
    """The final heatmaps ``[17,H,W]``."""

    shape: tuple[int, int, int]

    def peaks(self, threshold: float, nms_pad: int) -> tuple[np.ndarray, np.ndarray]:
        """``(joints, flat)`` of every pixel above ``threshold`` that equals the max of its
        ``(2*nms_pad+1)^2`` window (ties all kept), sorted by joint, then flat index."""

    def at(self, j, flat: np.ndarray) -> np.ndarray:
        """Exact values at flat indices."""

    def block_bound(self, j: int, b: int) -> np.ndarray:
        """An upper bound of each ``b`` x ``b`` block's maximum, ``[H/b, W/b]``."""

    def block_max(self, j, b: int, blocks: np.ndarray) -> np.ndarray:
        """Exact maxima of ``b`` x ``b`` blocks (row-major block ids) of joint(s) ``j`` (an
        int or an array like ``blocks``)."""

    def joint_map(self, j: int, out: np.ndarray | None = None) -> np.ndarray:
        """The dense map ``[H,W]`` of one joint (written into ``out``, ``H*W`` float32
        contiguous, if given)."""

    def materialize(self) -> np.ndarray:
        """The whole dense map ``[17,H,W]``."""


class Maps(Protocol):
    """Heatmaps and tags of one image."""

    heatmaps: Heatmaps

    def tags_at(self, j, flat: np.ndarray) -> np.ndarray:
        """Tag vectors ``[..., 2]`` (normal pass, flipped pass) at flat indices."""

    def tag_block_bounds(self, j, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Per ``block`` x ``block`` block of joint(s) ``j`` (an int or an index array): lower
        and upper bounds of each tag component, ``[..., H/block, W/block, 2]`` each."""


class DenseHeatmaps:
    """:class:`~higherhrnet.postprocess.maps.Heatmaps` over a dense ``[C,H,W]`` array."""

    def __init__(self, det: np.ndarray):
        self.det = det
        self.shape = det.shape
        self._flat = det.reshape(det.shape[0], -1)
        self._all = det.reshape(-1)
        self._block_max: dict[tuple[int, int], np.ndarray] = {}

    def peaks(self, threshold: float, nms_pad: int):
        return dense_peaks(self.det, threshold, nms_pad)

    def at(self, j, flat: np.ndarray) -> np.ndarray:
        if np.ndim(j) == 0:
            return self._flat[j][np.asarray(flat, dtype=np.intp)]
        return self._all[np.asarray(j) * self._flat.shape[1] + np.asarray(flat, dtype=np.intp)]

    def block_bound(self, j: int, b: int) -> np.ndarray:
        if (j, b) not in self._block_max:
            self._block_max[j, b] = block_reduce(self.det[j], b, np.maximum)
        return self._block_max[j, b]

    def block_max(self, j, b: int, blocks: np.ndarray) -> np.ndarray:
        if np.ndim(j) == 0:
            return self.block_bound(j, b).ravel()[blocks]
        j, blocks = np.broadcast_arrays(np.asarray(j, dtype=np.intp), blocks)
        out = np.empty(blocks.shape, dtype=self.det.dtype)
        for k in np.unique(j):
            sel = j == k
            out[sel] = self.block_bound(int(k), b).ravel()[blocks[sel]]
        return out

    def joint_map(self, j: int, out: np.ndarray | None = None) -> np.ndarray:
        return self.det[j] if out is None else copy_into(out, self.det[j])

    def materialize(self) -> np.ndarray:
        return self.det


class DenseMaps:
    """:class:`~higherhrnet.postprocess.maps.Maps` over dense ``det [17,H,W]`` and
    ``tags [17,H,W,2]``."""

    def __init__(self, det: np.ndarray, tags: np.ndarray):
        self.det = det
        self.tags = tags
        self.heatmaps = DenseHeatmaps(det)

    def tags_at(self, j, flat: np.ndarray) -> np.ndarray:
        t = self.tags.reshape(self.tags.shape[0], -1, self.tags.shape[-1])
        return t[j, np.asarray(flat, dtype=np.intp)]

    def tag_block_bounds(self, j, block: int):
        if np.ndim(j) == 0:
            return (block_reduce(self.tags[j], block, np.minimum),
                    block_reduce(self.tags[j], block, np.maximum))
        lo, hi = zip(*(self.tag_block_bounds(int(k), block) for k in np.asarray(j)))
        return np.stack(lo), np.stack(hi)
