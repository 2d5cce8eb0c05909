"""Network input geometry: the reference's test-time size rule and the Ascend shape policy.

Facts: docs/reference.md, "Input size and warp".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INPUT_SIZE = 512
#: Long-side values the Ascend port snaps to (its ``scale_list``).
ASCEND_SIDES = (512, 576, 640, 704, 768, 832, 896, 960, 1024)
#: The 17 (H, W) shapes ATC compiles, in the order of the guide's ``--dynamic_dims``.
ASCEND_SHAPES: tuple[tuple[int, int], ...] = tuple(
    [(h, 512) for h in reversed(ASCEND_SIDES)] + [(512, w) for w in ASCEND_SIDES[1:]]
)
SHAPE_POLICIES = ("ascend17", "reference")
#: Network output index -> (ONNX output name, channels, stride w.r.t. the input).
OUTPUTS = (("output1", 34, 4), ("output2", 17, 2))


def align(x: float) -> int:
    """The reference's ``int(floor((x + 63) / 64) * 64)`` (not a true ceil for fractions)."""
    return int(math.floor((x + 63) / 64) * 64)


def snap_to_ascend(side: int) -> int:
    """Nearest value of :data:`ASCEND_SIDES` (aligned sides > 1024 clamp to 1024)."""
    return min(ASCEND_SIDES, key=lambda s: abs(s - side))


@dataclass(frozen=True)
class Geometry:
    """Where an image of ``width`` x ``height`` goes in the network input."""

    width: int
    height: int
    input_w: int
    input_h: int
    center: tuple[int, int]
    scale: tuple[float, float]

    @property
    def k(self) -> float:
        """Similarity factor image -> input: 512 / short side."""
        return INPUT_SIZE / min(self.width, self.height)


def input_geometry(width: int, height: int, policy: str = "ascend17") -> Geometry:
    """Input size, center and scale for an image (reference ``get_multi_scale_size``)."""
    if policy not in SHAPE_POLICIES:
        raise ValueError(f"unknown shape policy {policy!r}; choose one of {SHAPE_POLICIES}")
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    center = (int(w / 2.0 + 0.5), int(h / 2.0 + 0.5))
    if w < h:
        w_in = INPUT_SIZE
        h_in = align(INPUT_SIZE / w * h)
        if policy == "ascend17":
            h_in = snap_to_ascend(h_in)
        scale = (w / 200.0, h_in / w_in * w / 200.0)
    else:
        h_in = INPUT_SIZE
        w_in = align(INPUT_SIZE / h * w)
        if policy == "ascend17":
            w_in = snap_to_ascend(w_in)
        scale = (w_in / h_in * h / 200.0, h / 200.0)
    return Geometry(w, h, w_in, h_in, center, scale)
