"""Grouping parameters: the reference's test-time numbers, by name, defaults from the schema.

The defaults are ``postprocess.*`` of ``schemas/config.schema.yaml`` (their one home); the
fields are keyword-only, so no caller depends on their order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..workflow.schema import defaults
from ..data.keypoints import KEYPOINT_SETS
from .assignment import ASSIGNMENTS

#: The two computations of the stage (docs/reference.md, "Two paths").
PATHS = ("fast", "reference")

_D = defaults("postprocess")
DEFAULT_PATH = _D["path"]


@dataclass(frozen=True, kw_only=True)
class GroupingParams:
    """How :func:`.grouping.parse` and :func:`.reference.parse` group one image."""

    detection_threshold: float = _D["detection_threshold"]
    tag_threshold: float = _D["tag_threshold"]
    max_people: int = _D["max_people"]
    nms_kernel: int = _D["nms_kernel"]
    nms_padding: int = _D["nms_padding"]
    adjust: bool = _D["adjust"]
    refine: bool = _D["refine"]
    #: "munkres": the reference solver's tie-breaking (see :mod:`.assignment`);
    #: "scipy": ``linear_sum_assignment`` (same cost, may pick another of several optima).
    assignment: str = _D["assignment"]
    #: the model's joints (:mod:`higherhrnet.data.keypoints`): flip index and grouping order
    keypoints: str = "coco"

    def __post_init__(self):
        if self.keypoints not in KEYPOINT_SETS:
            raise ValueError(f"keypoints must be one of {sorted(KEYPOINT_SETS)}, "
                             f"got {self.keypoints!r}")
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

    @classmethod
    def from_mapping(cls, values: dict) -> "GroupingParams":
        """From the keys of a config section (others, such as ``path``, are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
