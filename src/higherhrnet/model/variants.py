"""The reference's three COCO models (``model.variant``), without importing torch.

Facts: ../shared/reference/variants/README.md. ``w32_640`` is the W32-512 network (same
state-dict layout, same synthetic weights) run at input size 640; ``w48_640`` has branch
channels 48/96/192/384 and 48 deconv channels. Only W32-512 has an official download
address (the guide's); the other two are local files. The reference's val2017 AP (flip
test, README) per model, at one scale and with the multi-scale test [0.5, 1, 2], goes into
the report beside the measured one.

The three CrowdPose models (``crowdpose_*``; ../shared/reference/crowdpose/README.md) are the
same networks on CrowdPose's 14 joints (:mod:`higherhrnet.data.keypoints`): W32-640 has the
W32-512 layout again. Their weights are local files only. The reference reports CrowdPose
*test* numbers for its HigherHRNet (listed under W48 in the paper): 65.9 AP with flip at one
scale; its multi-scale number (67.6) names no scale factors, so no set of scales matches it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Scale factors of the reference's multi-scale test (``TEST.SCALE_FACTOR``).
REFERENCE_SCALES = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Variant:
    """One of the reference's COCO models: its HRNet width and its input size."""

    name: str
    width: int  # channels of the highest-resolution branch and of the deconv
    input_size: int  # the short side of the network input at scale 1
    ap_one_scale: float | None  # reference AP (ap_dataset), flip test, one scale
    ap_multi_scale: float | None  # the same with the multi-scale test [0.5, 1, 2]
    official: bool  # has a direct download address
    keypoints: str = "coco"  # the joints it predicts (data.keypoints): coco or crowdpose
    ap_dataset: str = "COCO val2017"  # where the reference's AP numbers were measured

    @property
    def num_joints(self) -> int:
        from ..data.keypoints import keypoint_set

        return keypoint_set(self.keypoints).num_joints

    @property
    def title(self) -> str:
        suffix = "" if self.keypoints == "coco" else " (CrowdPose)"
        return f"HigherHRNet-W{self.width}-{self.input_size}{suffix}"

    @property
    def layout_key(self) -> tuple[int, str]:
        """What decides the state-dict layout: the width and the joints."""
        return self.width, self.keypoints

    @property
    def layout(self) -> str:
        """The state-dict layout, as error messages name it."""
        channels = "/".join(str(self.width * 2 ** b) for b in range(4))
        joints = f", {self.num_joints} joints" if self.keypoints != "coco" else ""
        return f"HigherHRNet-W{self.width} (branch channels {channels}{joints})"

    def reference_ap(self, scales) -> float | None:
        """The reference's AP for these scales: one scale ([1]) or [0.5, 1, 2]; None for any
        other set (the reference reports no number for it)."""
        values = sorted(float(s) for s in scales)
        if values == [1.0]:
            return self.ap_one_scale
        if values == list(REFERENCE_SCALES):
            return self.ap_multi_scale
        return None


VARIANTS = {v.name: v for v in (
    Variant("w32_512", 32, 512, 67.1, 69.9, True),
    Variant("w32_640", 32, 640, 68.5, 70.6, False),
    Variant("w48_640", 48, 640, 69.9, 72.1, False),
    Variant("crowdpose_w32_512", 32, 512, None, None, False, "crowdpose", "CrowdPose test"),
    Variant("crowdpose_w32_640", 32, 640, None, None, False, "crowdpose", "CrowdPose test"),
    Variant("crowdpose_w48_640", 48, 640, 65.9, None, False, "crowdpose", "CrowdPose test"),
)}
DEFAULT_VARIANT = "w32_512"


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown model variant {name!r}; choose one of "
                         f"{', '.join(VARIANTS)}") from None
