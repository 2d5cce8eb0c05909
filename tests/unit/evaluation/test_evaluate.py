"""COCO evaluation, its defined behaviour on odd input, and the skeleton drawings."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from higherhrnet.errors import WorkflowError
from higherhrnet.evaluation.cocoeval import METRICS, evaluate, load_results

# the reference's stats names, in COCOeval order
REFERENCE_NAMES = ("AP", "Ap .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)",
                   "AR (L)")


@pytest.fixture(scope="module")
def mini(reference):
    folder = reference / "postprocess"
    return folder / "mini_coco_gt.json", json.loads((folder / "mini_coco_expected_results.json").read_text())


@pytest.fixture(scope="module")
def evaluate_cli(root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("script_evaluate", root / "scripts" / "evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_expected_results_give_reference_stats(mini):
    gt, expected = mini
    metrics = evaluate(gt, expected["results"])
    for ours, theirs in zip(METRICS, REFERENCE_NAMES):
        if expected["stats"][theirs] == -1:  # COCOeval's "no ground truth": not available
            assert metrics[ours] is None, ours
        else:
            assert metrics[ours] == pytest.approx(expected["stats"][theirs], abs=1e-4), ours
    assert metrics["AP"] == pytest.approx(0.7525, abs=1e-4)


def test_cli_writes_json_csv_and_table(mini, evaluate_cli, tmp_path):
    gt, expected = mini
    res = tmp_path / "results.json"
    res.write_text(json.dumps(expected["results"]))
    out = {k: tmp_path / f"m.{k}" for k in ("json", "csv", "md")}
    evaluate_cli(["--annotations", str(gt), "--results", str(res), "--metrics", str(out["json"]),
                  "--csv", str(out["csv"]), "--table", str(out["md"])])
    metrics = json.loads(out["json"].read_text())
    assert metrics["AR"] == pytest.approx(0.75) and metrics["num_results"] == 4
    header, row = out["csv"].read_text().splitlines()
    assert header.split(",") == list(METRICS)
    assert float(row.split(",")[0]) == pytest.approx(metrics["AP"])
    table = out["md"].read_text()
    assert "| this run | 75.2 |" in table and "67.1" in table


def test_empty_results_give_zero_metrics_with_warning(mini, evaluate_cli, tmp_path, capsys):
    gt, _ = mini
    res = tmp_path / "results.json"
    res.write_text("[]")
    evaluate_cli(["--annotations", str(gt), "--results", str(res), "--metrics",
                  str(tmp_path / "m.json")])
    metrics = json.loads((tmp_path / "m.json").read_text())
    # the mini set has no medium-sized person: those two are not available, the rest 0
    assert all(metrics[m] == 0.0 for m in METRICS if m not in ("APm", "ARm"))
    assert metrics["APm"] is None and metrics["ARm"] is None
    assert "no predictions" in capsys.readouterr().err


def _cli(root, script, *args):
    proc = subprocess.run([sys.executable, str(root / "scripts" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("people", ["large only", "none"])
def test_metric_without_ground_truth_is_not_available_everywhere(root, mini, tmp_path, people):
    """Issue 27, item 2: COCOeval's -1 (no ground-truth person, or none of a size) is "not
    available" in every output: json null, csv empty, tables n/a, no difference to the guide,
    and one warning in the log saying why; never -1 or -100 (before: html AP -100.0, -167.1)."""
    gt, expected = mini
    if people == "none":
        data = json.loads(gt.read_text())
        data["annotations"] = []
        gt = tmp_path / "no_people.json"
        gt.write_text(json.dumps(data))
    res = tmp_path / "results.json"
    res.write_text(json.dumps(expected["results"]))
    out = {k: tmp_path / f"metrics.{k}" for k in ("json", "csv", "md", "html")}
    log = _cli(root, "evaluate.py", "--annotations", gt, "--results", res, "--metrics",
               out["json"], "--csv", out["csv"], "--table", out["md"]).stderr
    gone = ["APm", "ARm"] if people == "large only" else list(METRICS)
    warnings = [line for line in log.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and ", ".join(gone) in warnings[0], log
    assert ("no medium person" if people == "large only" else "no person") in warnings[0]
    metrics = json.loads(out["json"].read_text())
    assert [m for m in METRICS if metrics[m] is None] == gone, metrics
    header, row = out["csv"].read_text().splitlines()
    values = dict(zip(header.split(","), row.split(",")))
    assert [m for m in METRICS if values[m] == ""] == gone, values
    _cli(root, "report_tables.py", "--metrics", out["json"], "--weights-source", "synthetic",
         "--dataset", "coco_folder", "--output", out["html"])
    page = out["html"].read_text()
    cells = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", page))
    for m in gone:
        assert cells[m].startswith("<td>n/a</td>") and cells[m].endswith("<td></td>"), cells[m]
    for text in (out["md"].read_text(), page, out["json"].read_text(), out["csv"].read_text()):
        assert "-1.0" not in text and "-100" not in text and "-167" not in text
    assert out["md"].read_text().count("n/a") == len(gone)


def test_unknown_image_ids_fail_or_are_dropped(mini, capsys):
    gt, expected = mini
    extra = dict(expected["results"][0], image_id=424242)
    with pytest.raises(WorkflowError, match="1 image id\\(s\\) not in .*: 424242"):
        evaluate(gt, expected["results"] + [extra])
    metrics = evaluate(gt, expected["results"] + [extra], drop_unknown=True)
    assert metrics["AP"] == pytest.approx(0.7525, abs=1e-4)
    assert "dropping" in capsys.readouterr().err


@pytest.mark.parametrize("content,match", [
    ("{not json", "not readable JSON"),
    ('{"a": 1}', "expected a JSON list"),
    ('[{"image_id": 1}]', "entry 0 lacks"),
    ('[{"image_id": 1, "category_id": 1, "keypoints": [1.0], "score": 1}]', "1 keypoint values"),
])
def test_malformed_results_fail_clearly(tmp_path, content, match):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(WorkflowError, match=match):
        load_results(path)
    with pytest.raises(WorkflowError, match="file not found"):
        load_results(tmp_path / "missing.json")


def test_draw_skeletons(root, coco_sample, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("script_draw", root / "scripts" / "draw_skeletons.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ann = coco_sample / "person_keypoints_sample.json"
    data = json.loads(ann.read_text())
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
                "score": 1.0} for a in data["annotations"] if a["num_keypoints"] > 0]
    res = tmp_path / "r.json"
    res.write_text(json.dumps(results))
    out = tmp_path / "drawings"
    mod.main(["--annotations", str(ann), "--images", str(coco_sample / "images"), "--results",
              str(res), "--output-dir", str(out), "--count", "2", "--format", "png"])
    files = sorted(out.iterdir())
    assert len(files) == 2 and all(f.suffix == ".png" for f in files)
    first = data["images"][0]
    drawn = cv2.imread(str(out / first["file_name"].replace(".jpg", ".png")))
    original = cv2.imread(str(coco_sample / "images" / first["file_name"]),
                          cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert drawn.shape == original.shape
    assert np.count_nonzero(np.abs(drawn.astype(int) - original).sum(axis=2) > 60) > 200


def test_report_names_the_images_the_shape_policy_cropped(tmp_path, root):
    """report_tables.py --manifests: one line with the count and names (issue 27)."""
    import subprocess
    import sys

    from higherhrnet.preprocess.manifest import Manifest

    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(dict.fromkeys(METRICS, 0.5)))
    paths = []
    for k, cropped in enumerate([["a.jpg"], [], ["b c.jpg", "d.jpg"]]):
        paths.append(tmp_path / f"shard{k}.manifest.json")
        Manifest([], "ascend17", k, 3, cropped=cropped).write(paths[-1])
    out = tmp_path / "metrics.html"
    cmd = [sys.executable, str(root / "scripts" / "report_tables.py"), "--metrics", str(metrics),
           "--output", str(out), "--manifests", *map(str, paths)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    page = out.read_text()
    assert "ascend17: 3 image(s) cropped" in page and "a.jpg, b c.jpg, d.jpg" in page
    assert page.index("<table") < page.index("cropped") < page.index("</body>")
    for k in range(3):
        Manifest([], "ascend17_fit", k, 3).write(paths[k])
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert "ascend17_fit: every image seen whole (0 cropped)" in out.read_text()
