"""CrowdPose-format labels from COCO ones (issue 25): the rule that made the reference's
crowdpose_sample.json, reproduced from the 8 COCO sample labels."""

from __future__ import annotations

import json

from higherhrnet.data.crowdpose import from_coco


def test_sample_labels_are_the_references(reference):
    coco = json.loads((reference.parent / "data" / "coco_sample" /
                       "person_keypoints_sample.json").read_text())
    want = json.loads((reference / "crowdpose" / "crowdpose_sample.json").read_text())
    got = json.loads(json.dumps(from_coco(coco)))
    assert got["images"] == want["images"]
    assert got["annotations"] == want["annotations"]
    assert got["categories"][0]["keypoints"] == want["categories"][0]["keypoints"]
    assert got["categories"][0]["skeleton"] == want["categories"][0]["skeleton"]
    assert len(got["annotations"]) == 54
    assert sum(a["num_keypoints"] > 0 for a in got["annotations"]) == 39
