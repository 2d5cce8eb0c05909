"""The two keypoint sets the reference's models predict: COCO's 17 joints and CrowdPose's 14.

What differs between them on the test path is declared here once: the joint names (their
order is the network's channel order), the flip index (left/right swap of a width-flipped
input), the grouping order, the OKS sigmas of the evaluation and the limbs drawn.

Facts: COCO in :mod:`.coco`; CrowdPose in ../shared/reference/crowdpose/README.md (joints,
``FLIP_CONFIG['CROWDPOSE']``, ``crowd_pose_part_orders``, crowdposetools' sigmas). The
reference's grouping order (``lib/core/group.py`` ``Params.joint_order``) is COCO's, hard-coded,
and ``match_by_tag`` walks its first ``num_joints`` entries: for CrowdPose that is
``[0,1,2,3,4,5,6,11,12,7,8,9,10,13]`` (a quirk that changes results, so it is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import coco

#: The reference's grouping order for COCO: nose, eyes, ears, shoulders, hips, elbows,
#: wrists, knees, ankles (``Params.joint_order``).
COCO_GROUPING_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)


@dataclass(frozen=True)
class KeypointSet:
    """One model family's joints: what the postprocess, evaluation and drawings need."""

    name: str
    names: tuple[str, ...]
    flip_index: tuple[int, ...]
    #: the order in which grouping walks the joints
    grouping_order: tuple[int, ...]
    #: per joint, the OKS sigma of the evaluation
    sigmas: tuple[float, ...]
    #: limbs to draw, 0-based joint pairs
    limbs: tuple[tuple[int, int], ...]

    def __post_init__(self):
        n = len(self.names)
        for field in ("flip_index", "grouping_order", "sigmas"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"keypoint set {self.name}: {field} has "
                                 f"{len(getattr(self, field))} entries, expected {n}")
        if sorted(self.flip_index) != list(range(n)) or sorted(self.grouping_order) != list(range(n)):
            raise ValueError(f"keypoint set {self.name}: flip index and grouping order must "
                             "be permutations of the joints")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def title(self) -> str:
        return {"coco": "COCO", "crowdpose": "CrowdPose"}.get(self.name, self.name)


COCO = KeypointSet(
    name="coco",
    names=tuple(coco.KEYPOINT_NAMES),
    flip_index=coco.FLIP_INDEX,
    grouping_order=COCO_GROUPING_ORDER,
    # pycocotools' COCOeval.Params (setKpParams)
    sigmas=(.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87,
            .89, .89),
    limbs=tuple((a - 1, b - 1) for a, b in coco.SKELETON),
)

CROWDPOSE = KeypointSet(
    name="crowdpose",
    names=("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
           "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
           "right_ankle", "head", "neck"),
    flip_index=(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13),
    grouping_order=COCO_GROUPING_ORDER[:14],
    # crowdposetools' computeOks (hard-coded): shoulders, elbows, wrists, hips, knees,
    # ankles, head, neck
    sigmas=(.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79),
    # the reference's crowd_pose_part_orders (CrowdPose's own json skeleton is COCO's,
    # 1-based and naming joints that do not exist here: not used)
    limbs=((12, 13), (13, 0), (13, 1), (0, 1), (0, 6), (1, 7), (6, 7), (0, 2), (2, 4),
           (1, 3), (3, 5), (6, 8), (8, 10), (7, 9), (9, 11)),
)

KEYPOINT_SETS = {k.name: k for k in (COCO, CROWDPOSE)}


def keypoint_set(name: str) -> KeypointSet:
    try:
        return KEYPOINT_SETS[name]
    except KeyError:
        raise ValueError(f"unknown keypoint set {name!r}; choose one of "
                         f"{', '.join(KEYPOINT_SETS)}") from None


def for_channels(num_joints: int) -> KeypointSet:
    """The keypoint set of a network output with ``num_joints`` heatmaps (17 or 14)."""
    for k in KEYPOINT_SETS.values():
        if k.num_joints == num_joints:
            return k
    raise ValueError(f"no keypoint set has {num_joints} joints (COCO 17, CrowdPose 14)")
