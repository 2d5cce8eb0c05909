"""Workflow runs on own images and a video (dataset.name images / video), no annotations.

One module-scoped working folder: a photo folder built from the COCO sample (a subfolder, a
file name with spaces, one corrupt file) and a short video made from sample images, both run
with synthetic weights (noisy skeletons) and kept intermediates; then the raw network
outputs are replaced by oracle outputs of the sample's ground truth, and postprocess onward
must put the keypoints on the annotated people, through ids, listings, shards and file names.
"""

from __future__ import annotations

import json
import re
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from higherhrnet.data.image_folder import path_id
from higherhrnet.evaluation.prediction_report import CELL, LABEL
from higherhrnet.preprocess.manifest import Manifest
from support.postprocess import oracle_outputs
from support.workflow import ROOT, planned_jobs, planned_outputs, snakemake

pytestmark = pytest.mark.workflow

SHARDS = 2
# photo folder: relative path -> sample image id
PHOTOS = {"a.jpg": 785, "sub/b c.jpg": 40083, "sub/deeper/c.jpg": 197388}
# video frames 0..5 from these sample images (two frames each), resized to VIDEO_SIZE
VIDEO_IMAGES = [785, 785, 197388, 197388, 40083, 40083]
VIDEO_SIZE = (640, 480)
STRIDE, MAX_FRAMES = 2, 2  # -> frames 0 (785) and 2 (197388)
IMAGES_RUN = "results/images/onnxruntime"
VIDEO_RUN = "results/video/onnxruntime"


def _sample(coco_sample):
    ann = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    files = {im["id"]: coco_sample / "images" / im["file_name"] for im in ann["images"]}
    people = {i: [np.array(a["keypoints"], np.float64).reshape(17, 3) for a in ann["annotations"]
                  if a["image_id"] == i and not a["iscrowd"] and a["num_keypoints"] > 0]
              for i in files}
    sizes = {im["id"]: (im["width"], im["height"]) for im in ann["images"]}
    return files, people, sizes


def _video_people(people, sizes, sample_id):
    sx, sy = VIDEO_SIZE[0] / sizes[sample_id][0], VIDEO_SIZE[1] / sizes[sample_id][1]
    return [p * np.array([sx, sy, 1.0]) for p in people[sample_id]]


def _config(kind, folder):
    if kind == "images":
        return [f"dataset={{name: images, images: '{folder / 'photos'}'}}", "keep_intermediates=True"]
    return [f"dataset={{name: video, video: '{folder / 'clip.mp4'}', frame_stride: {STRIDE}, "
            f"max_frames: {MAX_FRAMES}}}", "keep_intermediates=True"]


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, coco_sample):
    work = tmp_path_factory.mktemp("wf_own")
    files, people, sizes = _sample(coco_sample)
    photos = work / "photos"
    for rel, sample_id in PHOTOS.items():
        (photos / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(files[sample_id], photos / rel)
    (photos / "sub" / "corrupt.jpg").write_bytes(b"this is not a JPEG file" * 40)
    writer = cv2.VideoWriter(str(work / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                             VIDEO_SIZE)
    for sample_id in VIDEO_IMAGES:
        writer.write(cv2.resize(cv2.imread(str(files[sample_id])), VIDEO_SIZE))
    writer.release()
    for kind in ("images", "video"):  # one folder: the model export is shared
        snakemake(work, "--cores", "2", config=_config(kind, work))
    return work


@pytest.mark.slow
def test_images_predictions_tables_drawings_and_report(own_run):
    run = own_run / IMAGES_RUN
    preds = json.loads((run / "predictions.json").read_text())
    assert preds and {p["file_name"] for p in preds} <= set(PHOTOS)
    for p in preds:
        assert list(p)[:2] == ["image_id", "file_name"] and p["image_id"] == path_id(p["file_name"])
        assert len(p["keypoints"]) == 51 and p["category_id"] == 1
    table = pd.read_csv(run / "keypoints.csv")  # the one line a user needs
    assert len(table) == len(preds) and {"file_name", "nose_x", "right_ankle_score"} <= set(table)
    index = pd.read_csv(run / "images.csv").set_index("file_name")
    assert sorted(index.index) == sorted([*PHOTOS, "sub/corrupt.jpg"])
    assert index.loc["sub/corrupt.jpg", "status"] == "unreadable"
    assert "cannot be decoded" in index.loc["sub/corrupt.jpg", "error"]
    assert (index.loc[list(PHOTOS), "status"] == "ok").all()
    assert index.loc["sub/b c.jpg", "image_id"] == path_id("sub/b c.jpg")
    assert (run / "unreadable.txt").read_text().startswith("sub/corrupt.jpg: image ")
    shard = path_id("sub/corrupt.jpg") % SHARDS
    log = (own_run / f"logs/images/list_images/shard{shard}.log").read_text()
    assert "unreadable, skipped: image" in log and "corrupt.jpg" in log
    for rel in PHOTOS:  # every readable image drawn, same relative path
        drawing = run / "skeletons" / rel
        assert drawing.stat().st_size > 1000
        assert cv2.imread(str(drawing)).shape == cv2.imread(str(own_run / "photos" / rel)).shape
    page = (run / "summary.html").read_text()
    assert "<td>images found</td><td>4</td>" in page and "corrupt.jpg" in page
    assert "list_images" in page and "infer_flip" in page and "base64" in page
    assert "<th>metric</th>" not in page and not (run / "metrics.json").exists()
    # issue 27: the page says which model and test ran (item 3), declares UTF-8 (item 11),
    # and times every stage, gather and predictions too (item 11)
    assert "HigherHRNet-W32-512 (model.variant w32_512, input 512), test scales [1]" in page
    assert "No metrics (no annotations)" in page
    assert page.startswith('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>')
    for stage in ("gather_results", "predictions", "draw_predictions"):
        assert f"<td>{stage}</td>" in page, stage
    assert (run / "stage_times.png").stat().st_size > 1000
    # issue 27, item 11: each label right below its picture, no blank band: a row is as
    # high as its highest scaled picture + the label line (the grid: the first
    # report.drawings = 2 drawings, one row; before: CELL + LABEL, a band under each)
    grid = cv2.imread(str(run / "drawings_grid.jpg"))
    heights = [round(h * CELL / max(h, w)) for h, w in
               (cv2.imread(str(run / "skeletons" / rel)).shape[:2] for rel in sorted(PHOTOS)[:2])]
    assert max(heights) < CELL - 20  # landscape pictures: the case that had the band
    assert grid.shape[:2] == (max(heights) + LABEL, 2 * CELL), (grid.shape, heights)


def documented_columns(kind: str) -> list[str]:
    """The README's keypoints.csv columns before the joints, for images or a video."""
    text = (ROOT / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `keypoints.csv` |"))
    names = re.findall(r"`(\w+)`", row.split("columns", 1)[1].split("...")[0])
    video = names.index("frame")
    first = names[:video] if kind == "images" else [names[0], *names[video:video + 2]]
    return first + names[video + 2:]


@pytest.mark.slow
@pytest.mark.parametrize("kind,run_dir", [("images", IMAGES_RUN), ("video", VIDEO_RUN)])
def test_keypoints_csv_columns_are_the_readmes(own_run, kind, run_dir):
    """Issue 27, item 10: the README named the columns "id, file"; the header of a real
    output starts with the columns it names now, in that order."""
    header = (own_run / run_dir / "keypoints.csv").read_text().splitlines()[0].split(",")
    want = documented_columns(kind)
    assert header[: len(want)] == want, (header[:8], want)


@pytest.mark.slow
def test_video_predictions_per_frame_and_annotated_video(own_run):
    run = own_run / VIDEO_RUN
    preds = json.loads((run / "predictions.json").read_text())
    assert preds and {(p["image_id"], p["frame"], p["timestamp_s"]) for p in preds} <= {
        (0, 0, 0.0), (2, 2, 0.2)}
    frames = pd.read_csv(run / "frames.csv")
    assert list(frames["frame"]) == [0, 2] and list(frames["timestamp_s"]) == [0.0, 0.2]
    assert list(frames["width"]) == [VIDEO_SIZE[0]] * 2
    assert {"frame", "timestamp_s", "nose_x"} <= set(pd.read_csv(run / "keypoints.csv"))
    cap = cv2.VideoCapture(str(run / "annotated.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0 / STRIDE)
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == MAX_FRAMES
    assert sorted(p.name for p in (run / "skeletons").glob("*.jpg")) == [
        "frame_00000000.jpg", "frame_00000002.jpg"]
    assert "<td>frames processed</td><td>2</td>" in (run / "summary.html").read_text()
    assert "1 frame(s)" in (own_run / "logs/video/extract_frames/shard1.log").read_text()
    snakemake(own_run, "--report", "report.html", config=_config("video", own_run))
    page = (own_run / "report.html").read_text(errors="replace")
    assert all(name in page for name in ("annotated.mp4", "summary.html", "drawings_grid.jpg"))


@pytest.mark.slow
def test_added_image_reruns_only_its_shard(own_run, coco_sample):
    rel = "sub/added later.jpg"
    shard = path_id(rel) % SHARDS
    added = own_run / "photos" / rel
    shutil.copy(coco_sample / "images" / "000000196141.jpg", added)
    try:
        out = snakemake(own_run, "-n", config=_config("images", own_run))
    finally:
        added.unlink()
    jobs = planned_jobs(out.stdout)
    per_shard = ("list_images", "preprocess", "preprocess_flip", "infer", "infer_flip",
                 "postprocess")
    assert {r: jobs.get(r) for r in per_shard} == dict.fromkeys(per_shard, 1), jobs
    assert planned_outputs(out.stdout, "list_images") == [
        f"results/images/listing/shard{shard}.json"]
    assert "export_onnx" not in jobs and jobs["gather_results"] == 1
    # the image gone again: nothing to do (the recorded input sets are those of the run)
    assert planned_jobs(snakemake(own_run, "-n", config=_config("images", own_run)).stdout) == {}


def _write_oracle(work, dataset, truth):
    """Replace both passes' raw outputs of every shard by the oracle's (truth: entry -> people)."""
    run = work / f"results/{dataset}/onnxruntime"
    for k in range(SHARDS):
        manifest = Manifest.read(work / f"results/{dataset}/prep/shard{k}.manifest.json")
        for entry in manifest.entries:
            arrays = oracle_outputs(entry.geometry(), truth(entry))
            for name, pair in (("output_dir", arrays[:2]), ("output_flip_dir", arrays[2:])):
                for i, a in enumerate(pair):
                    np.save(run / f"infer/shard{k}" / name / f"{entry.stem}_{i}.npy", a)


def _assert_on_people(preds, people, where):
    """Each annotated person with 3+ labelled joints has a prediction on them (median joint
    distance within 3 px; the oracle gives 0.4 to 0.8 px here)."""
    checked = 0
    for gt in people:
        seen = gt[:, 2] > 0
        if seen.sum() < 3:
            continue
        best = min(np.median(np.hypot(*(np.array(p["keypoints"]).reshape(17, 3)[seen, :2]
                                         - gt[seen, :2]).T)) for p in preds)
        assert best < 3.0, (where, best)
        checked += 1
    assert checked, where


@pytest.mark.slow
def test_oracle_outputs_put_keypoints_on_the_annotated_people(own_run, coco_sample):
    _, people, sizes = _sample(coco_sample)
    by_entry = {"images": lambda e: people[PHOTOS[e.file_name]],
                "video": lambda e: _video_people(people, sizes, VIDEO_IMAGES[e.image_id])}
    for kind in ("images", "video"):
        _write_oracle(own_run, kind, by_entry[kind])
        # the raw-output folders are ancient() inputs: postprocess onward is forced
        out = snakemake(own_run, "--cores", "2", "--forcerun", "postprocess",
                        config=_config(kind, own_run))
        assert "rule infer" not in out.stderr and "rule postprocess:" in out.stderr
    preds = json.loads((own_run / IMAGES_RUN / "predictions.json").read_text())
    for rel, sample_id in PHOTOS.items():
        _assert_on_people([p for p in preds if p["file_name"] == rel], people[sample_id], rel)
    preds = json.loads((own_run / VIDEO_RUN / "predictions.json").read_text())
    for frame in (0, 2):
        _assert_on_people([p for p in preds if p["frame"] == frame],
                          _video_people(people, sizes, VIDEO_IMAGES[frame]), f"frame {frame}")


# ------------------------------------------------------------------ stops before any work


@pytest.mark.parametrize("kind,expected", [
    ("empty folder", "holds no image files"),
    ("only corrupt", "none of the 1 image file(s)"),
    ("missing video", "does not exist"),
    ("undecodable video", "container: MP4/QuickTime"),
])
def test_bad_own_input_stops_before_any_job(tmp_path, kind, expected):
    (tmp_path / "in").mkdir()
    if kind == "only corrupt":
        (tmp_path / "in" / "x y.jpg").write_bytes(b"garbage" * 20)
    if kind == "undecodable video":
        (tmp_path / "in" / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500)
    dataset = (f"{{name: images, images: '{tmp_path / 'in'}'}}" if "video" not in kind
               else f"{{name: video, video: '{tmp_path / 'in' / 'v.mp4'}'}}")
    out = snakemake(tmp_path, "--cores", "1", check=False, config=[f"dataset={dataset}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert expected in text and "config problem" in text, text[-3000:]
    if kind == "only corrupt":
        assert "x y.jpg: cannot be decoded" in text
    assert not (tmp_path / "results").exists()
