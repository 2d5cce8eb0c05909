"""Network input geometry: the reference's test-time size rule and the Ascend shape policy.

Facts: docs/reference.md, "Input size and warp"; the multi-scale test's sizes:
../shared/reference/multiscale/README.md (``get_multi_scale_size(image, input_size,
current_scale, min_scale)``: every scale's size is aligned at the smallest scale, so with
``min_scale`` < 1 even the scale-1 size differs from the one-scale test's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INPUT_SIZE = 512
#: ATC takes at most this many ``--dynamic_dims`` profiles (ASCEND_TOOLS.md).
MAX_PROFILES = 100


def ascend_sides(short: int) -> tuple[int, ...]:
    """Long-side values the Ascend port snaps to for a short side (its ``scale_list`` for
    512: 512..1024 in steps of 64); the same rule (short..2*short) for the other sizes."""
    return tuple(range(short, 2 * short + 1, 64))


#: Long-side values the Ascend port snaps to (its ``scale_list``).
ASCEND_SIDES = ascend_sides(INPUT_SIZE)


def _profile(short: int, longs) -> list[tuple[int, int]]:
    """Portrait shapes (longest first), then landscape ones: the guide's order."""
    return [(h, short) for h in reversed(longs)] + [(short, w) for w in longs[1:]]


#: The 17 (H, W) shapes ATC compiles, in the order of the guide's ``--dynamic_dims``.
ASCEND_SHAPES: tuple[tuple[int, int], ...] = tuple(_profile(INPUT_SIZE, ASCEND_SIDES))
#: ``ascend17``: the guide's port (an image wider or taller than about 2:1 is cropped);
#: ``ascend17_fit``: the same shapes, such an image scaled down to fit (letterboxed);
#: ``reference``: valid.py's size rule (any shape, the whole image).
SHAPE_POLICIES = ("ascend17", "ascend17_fit", "reference")
#: The policies whose inputs are the compiled Ascend shape set.
ASCEND_POLICIES = ("ascend17", "ascend17_fit")
#: Network output index -> (ONNX output name, channels, stride w.r.t. the input).
OUTPUTS = (("output1", 34, 4), ("output2", 17, 2))


def align(x: float) -> int:
    """The reference's ``int(floor((x + 63) / 64) * 64)`` (not a true ceil for fractions)."""
    return int(math.floor((x + 63) / 64) * 64)


def snap_to_ascend(side: int, sides: tuple[int, ...] = ASCEND_SIDES) -> int:
    """Nearest value of ``sides`` (aligned sides > 1024 clamp to 1024 for 512)."""
    return min(sides, key=lambda s: abs(s - side))


def min_input_size(input_size: int = INPUT_SIZE, min_scale: float = 1.0) -> int:
    """The short side at the smallest scale, ``int((min_scale * input_size + 63) // 64 * 64)``."""
    return align(min_scale * input_size)


def _at_scale(side: int, scale: float, min_scale: float) -> int:
    return int(side * scale / min_scale)  # the reference's order of operations


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
        """Similarity factor image -> input (input short side / image short side, smaller
        for an image fitted into the longest shape)."""
        return self.input_w / (self.scale[0] * 200.0)


def _aligned_long(w: int, h: int, short: int) -> int:
    """The reference's long input side for a ``w`` x ``h`` image whose short side goes to
    ``short``."""
    return align(short / w * h) if w < h else align(short / h * w)


def crops(width: int, height: int, policy: str = "ascend17", input_size: int = INPUT_SIZE,
          min_scale: float = 1.0) -> bool:
    """Whether ``policy`` cuts part of a ``width`` x ``height`` image off: only ``ascend17``
    does, for an image whose aligned long side exceeds the longest compiled side (wider or
    taller than about 2:1); the others lose at most the reference's sub-pixel rounding."""
    if policy != "ascend17":
        return False
    short = min_input_size(input_size, min_scale)
    return _aligned_long(int(width), int(height), short) > max(ascend_sides(short))


def input_geometry(width: int, height: int, policy: str = "ascend17",
                   input_size: int = INPUT_SIZE, scale: float = 1.0,
                   min_scale: float = 1.0) -> Geometry:
    """Input size, center and scale for an image (reference ``get_multi_scale_size``) at
    ``scale`` of a test whose smallest scale is ``min_scale`` (1, 1: the one-scale test).

    ``ascend17`` snaps the long side at the smallest scale to ``short..2*short`` in steps
    of 64 (the Ascend port's rule), then scales it like the short side; a longer side is
    clamped, which crops the image (:func:`crops`). ``ascend17_fit`` takes the same shape
    but, for such an image only, a larger ``scale``: the whole image (its long side around
    the centre) spans the input's long side and the short side is padded (letterbox).
    """
    if policy not in SHAPE_POLICIES:
        raise ValueError(f"unknown shape policy {policy!r}; choose one of {SHAPE_POLICIES}")
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    center = (int(w / 2.0 + 0.5), int(h / 2.0 + 0.5))
    short = min_input_size(input_size, min_scale)
    long_side = _aligned_long(w, h, short)
    fit = policy == "ascend17_fit" and long_side > max(ascend_sides(short))
    if policy in ASCEND_POLICIES:
        long_side = snap_to_ascend(long_side, ascend_sides(short))
    if w < h:
        w_in = _at_scale(short, scale, min_scale)
        h_in = _at_scale(long_side, scale, min_scale)
        geo_scale = (w / 200.0, h_in / w_in * w / 200.0)
        if fit:  # source height: the image's, symmetric around the (rounded) centre
            src = 2.0 * max(center[1], h - center[1])
            geo_scale = (src * w_in / h_in / 200.0, src / 200.0)
    else:
        h_in = _at_scale(short, scale, min_scale)
        w_in = _at_scale(long_side, scale, min_scale)
        geo_scale = (w_in / h_in * h / 200.0, h / 200.0)
        if fit:
            src = 2.0 * max(center[0], w - center[0])
            geo_scale = (src / 200.0, src * h_in / w_in / 200.0)
    return Geometry(w, h, w_in, h_in, center, geo_scale)


def parse_scales(text: str) -> list[float]:
    """``"2,1,0.5"`` -> ``[2.0, 1.0, 0.5]`` (a stage CLI's ``--scales``), order kept."""
    from ..errors import WorkflowError

    try:
        return [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise WorkflowError(f"--scales {text!r}: expected comma-separated numbers, "
                            "e.g. 2,1,0.5") from None


def format_scale(scale: float) -> str:
    """A scale factor as paths and flags write it: 1, 0.5, 2."""
    return f"{float(scale):g}"


def descending(scales) -> list[float]:
    """The scales in the order the reference visits them (largest first), as floats."""
    return sorted((float(s) for s in scales), reverse=True)


def check_scales(scales, input_size: int = INPUT_SIZE) -> list[float]:
    """The scale factors in visiting order, or ValueError saying what is wrong with them.

    Tags come from scale 1 only, so a list of several scales must hold 1; every input
    size must be a multiple of 32 (the network's fuse adds need it).
    """
    values = descending(scales)
    if not values:
        raise ValueError("test.scales is empty; give at least one scale factor, e.g. [1]")
    if any(v <= 0 for v in values) or len(set(values)) != len(values):
        raise ValueError(f"test.scales {list(scales)}: scale factors must be positive and distinct")
    if len(values) > 1 and 1.0 not in values:
        raise ValueError(f"test.scales {list(scales)}: the multi-scale test takes the tags from "
                         "scale 1 only, so the list must hold 1")
    short = min_input_size(input_size, min(values))
    for s in values:
        # the long side at the smallest scale is short + 64 k
        bad = [side for side in (_at_scale(short + 64 * k, s, min(values)) for k in range(33))
               if side % 32]
        if bad:
            raise ValueError(f"test.scales {list(scales)}: scale {s:g} gives input sides such as "
                             f"{bad[0]} that are not multiples of 32 (input size {input_size}, "
                             f"smallest scale {min(values):g}); the network needs multiples of "
                             "32, e.g. choose scales 0.5, 1, 2")
    return values


def shape_set(input_size: int = INPUT_SIZE, scales=(1.0,)) -> tuple[tuple[int, int], ...]:
    """Every (H, W) the ``ascend17`` policy gives for this input size and these scales, in the
    guide's order per scale (largest scale first): the shapes ATC must compile. For 512 at
    scale 1 it is :data:`ASCEND_SHAPES`. ValueError if ATC's profile limit is exceeded."""
    values = check_scales(scales, input_size)
    short = min_input_size(input_size, min(values))
    shapes: list[tuple[int, int]] = []
    for s in values:
        longs = [_at_scale(side, s, min(values)) for side in ascend_sides(short)]
        shapes += [hw for hw in _profile(_at_scale(short, s, min(values)), longs)
                   if hw not in shapes]
    if len(shapes) > MAX_PROFILES:
        raise ValueError(f"input size {input_size} with test.scales {list(scales)} needs "
                         f"{len(shapes)} input shapes; ATC compiles at most {MAX_PROFILES} "
                         "(--dynamic_dims profiles): use fewer scales")
    return tuple(shapes)
