"""The COCO annotation loader shared by the start-up checks."""

from __future__ import annotations


def test_annotations_are_read_once_while_unchanged(tmp_path, coco_sample):
    """The start-up checks share one read of the annotation file; an edit is read again."""
    import json
    import shutil

    from higherhrnet.data.coco import load_keypoint_annotations

    path = tmp_path / "a.json"
    shutil.copy(coco_sample / "person_keypoints_sample.json", path)
    first = load_keypoint_annotations(path)
    assert load_keypoint_annotations(str(path)) is first
    data = json.loads(path.read_text())
    data["images"] = data["images"][:3]
    keep = {im["id"] for im in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    path.write_text(json.dumps(data))
    again = load_keypoint_annotations(path)
    assert again is not first and len(again["images"]) == 3
