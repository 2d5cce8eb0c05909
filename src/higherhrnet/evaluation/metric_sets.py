"""What an evaluation reports, per keypoint set: the interface between the evaluators
(:mod:`.cocoeval`: pycocotools for COCO; :mod:`.crowdpose_eval`: crowdposetools' numbers for
CrowdPose) and everything that writes or shows metrics (json, csv, markdown, the report page).

Each :class:`MetricSet` names its metrics (the keys of metrics.json, in order), how tables
label them, and the published numbers a run is set beside.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricSet:
    keypoints: str  # data.keypoints name
    title: str  # what the evaluation is, as page headings say it
    keys: tuple[str, ...]  # metrics.json keys, in table order
    labels: tuple[str, ...]  # how tables name them
    #: published numbers (0..1) of the comparison row, by key
    reference: dict[str, float] = field(default_factory=dict)
    reference_label: str = ""
    #: what the reference numbers were measured on (the warning for other datasets)
    reference_dataset: str = ""

    def label(self, key: str) -> str:
        return self.labels[self.keys.index(key)]


COCO_METRICS = MetricSet(
    "coco", "COCO keypoint metrics",
    ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"),
    ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"),
    # Published single-scale + flip results of HigherHRNet-W32-512 on val2017 (upstream
    # README; the Ascend guide reports AP 67.1 for the OM model). AR is not published.
    {"AP": 0.671, "AP50": 0.862, "AP75": 0.730, "APm": 0.615, "APl": 0.761},
    "guide (W32-512, flip)", "COCO val2017's 5000 images",
)

CROWDPOSE_METRICS = MetricSet(
    "crowdpose", "CrowdPose metrics (crowdposetools)",
    ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard"),
    # the reference's names, ``Ap .5`` with its lower-case p
    ("AP", "Ap .5", "AP .75", "AR", "AR .5", "AR .75", "AP (easy)", "AP (medium)",
     "AP (hard)"),
    # the reference README's CrowdPose *test* numbers (HigherHRNet, flip, one scale; the
    # paper lists them under HRNet-W48); no AR is published
    {"AP": 0.659, "AP50": 0.864, "AP75": 0.706, "AP_easy": 0.733, "AP_medium": 0.665,
     "AP_hard": 0.579},
    "reference (W48-640, flip, CrowdPose test)", "CrowdPose test's 8000 images",
)

METRIC_SETS = {m.keypoints: m for m in (COCO_METRICS, CROWDPOSE_METRICS)}


def metric_set(keypoints: str) -> MetricSet:
    try:
        return METRIC_SETS[keypoints]
    except KeyError:
        raise ValueError(f"no evaluation for keypoint set {keypoints!r}") from None
