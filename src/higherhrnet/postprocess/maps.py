"""What the fast grouping reads from one image's aggregated maps (declared, not implied).

:class:`Maps` is implemented by :class:`.aggregate.Aggregated` (tiles and point tags
computed on demand); tests implement it over dense arrays.  Flat indices are row-major
over the network input size ``H x W``; ``j`` is a joint id or an array of them broadcast
with the indices.  Every value returned is bit-identical to the dense reference maps of
:func:`.reference.aggregate` (``det [17,H,W]``, ``tags [17,H,W,2]``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


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

    def materialize(self) -> np.ndarray:
        """The whole dense map ``[17,H,W]``."""


class Maps(Protocol):
    """Heatmaps and tags of one image."""

    heatmaps: Heatmaps

    def tags_at(self, j, flat: np.ndarray) -> np.ndarray:
        """Tag vectors ``[..., 2]`` (normal pass, flipped pass) at flat indices."""

    def tag_block_bounds(self, j: int, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Per ``block`` x ``block`` block: lower and upper bounds of each tag component,
        ``[H/block, W/block, 2]`` each."""
