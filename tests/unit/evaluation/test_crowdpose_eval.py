"""The CrowdPose evaluator (issue 25): the reference's nine numbers of crowdposetools on the
realistic fixture's results (../shared/reference/crowdpose/realistic/expected_stats.json)."""

from __future__ import annotations

import json

import pytest

from higherhrnet.errors import WorkflowError
from higherhrnet.evaluation.crowdpose_eval import METRICS, NAMES, evaluate, split_image_ids, load_annotations


@pytest.fixture(scope="module")
def crowdpose(reference):
    return reference / "crowdpose"


def test_nine_numbers_of_crowdposetools(crowdpose):
    results = json.loads((crowdpose / "realistic" / "expected_results.json").read_text())
    expected = json.loads((crowdpose / "realistic" / "expected_stats.json").read_text())
    assert list(NAMES) == expected["names"]
    got = evaluate(crowdpose / "crowdpose_sample.json", results)
    assert list(got) == list(METRICS)
    for m, want in zip(METRICS, expected["values"]):
        assert got[m] == pytest.approx(want, abs=1e-4), m


def test_splits_follow_crowd_index(crowdpose):
    """easy < 0.2 <= medium < 0.8 <= hard: the README's table of the 8 sample images."""
    splits = split_image_ids(load_annotations(crowdpose / "crowdpose_sample.json"))
    assert sorted(splits["AP_easy"]) == [785, 40083, 196141, 252219, 296649]
    assert splits["AP_medium"] == [197388]
    assert sorted(splits["AP_hard"]) == [233771, 329323]


def test_a_split_without_images_is_not_available(crowdpose, tmp_path, capsys):
    """crowdposetools gives -1 for an empty split; here it is None, with a warning."""
    data = json.loads((crowdpose / "crowdpose_sample.json").read_text())
    keep = {785, 40083}
    data["images"] = [i for i in data["images"] if i["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    path = tmp_path / "easy_only.json"
    path.write_text(json.dumps(data))
    results = [r for r in json.loads((crowdpose / "realistic" / "expected_results.json")
                                      .read_text()) if r["image_id"] in keep]
    got = evaluate(path, results)
    assert got["AP_medium"] is None and got["AP_hard"] is None
    assert 0 <= got["AP_easy"] <= 1 and 0 <= got["AP"] <= 1
    assert "hard range" in capsys.readouterr().err


def test_a_coco_json_is_refused_naming_the_file(reference, tmp_path):
    coco = reference.parent / "data" / "coco_sample" / "person_keypoints_sample.json"
    with pytest.raises(WorkflowError, match=r"person_keypoints_sample\.json.*14 keypoints"):
        evaluate(coco, [])


def test_evaluate_cli_writes_the_nine_numbers(root, crowdpose, tmp_path):
    """scripts/evaluate.py --keypoints crowdpose: metrics.json, csv and table."""
    import subprocess
    import sys

    out = tmp_path / "m.json"
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "evaluate.py"),
         "--annotations", str(crowdpose / "crowdpose_sample.json"),
         "--results", str(crowdpose / "realistic" / "expected_results.json"),
         "--metrics", str(out), "--csv", str(tmp_path / "m.csv"),
         "--table", str(tmp_path / "m.md"), "--keypoints", "crowdpose"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    expected = json.loads((crowdpose / "realistic" / "expected_stats.json").read_text())
    assert [got[m] for m in METRICS] == pytest.approx(expected["values"], abs=1e-4)
    assert (tmp_path / "m.csv").read_text().splitlines()[0] == ",".join(METRICS)
    assert "| this run | 71.8 | 95.9 |" in (tmp_path / "m.md").read_text()
