"""Own images and videos: folder listing and stable ids, video probing and sampling,
predictions tables (the workflow runs are in test_workflow_own_data.py)."""

from __future__ import annotations

import io
import json
import os
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from higherhrnet.data import image_folder
from higherhrnet.data.coco import image_records, load_keypoint_annotations
from higherhrnet.errors import WorkflowError
from higherhrnet.data.image_folder import (assign_ids, check_some_readable, path_id, read_listings,
                                      relative_image_paths, scan_folder, shard_images,
                                      write_listing)
from higherhrnet.evaluation.predictions import KEYPOINT_COLUMNS, write_predictions
from higherhrnet.data.video import annotate_video, extract_shard, probe_video, sampled_frames


@pytest.fixture
def photos(tmp_path, coco_sample):
    src = sorted((coco_sample / "images").glob("*.jpg"))
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    shutil.copy(src[0], d / "a.jpg")
    shutil.copy(src[1], d / "sub" / "b c.JPG")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"not a jpeg" * 50)  # SOI, no EOI
    (d / "notes.txt").write_text("not an image")
    (d / ".hidden.jpg").write_bytes(src[0].read_bytes())
    (d / ".cache").mkdir()
    shutil.copy(src[2], d / ".cache" / "x.jpg")
    return d


def test_listing_is_recursive_sorted_and_skips_hidden_and_other_files(photos):
    assert relative_image_paths(photos) == ["a.jpg", "broken.jpg", "sub/b c.JPG"]
    ims = scan_folder(photos)
    assert [im.file_name for im in ims] == ["a.jpg", "broken.jpg", "sub/b c.JPG"]
    assert all(1 <= im.id < 10**12 for im in ims)


def test_ids_and_shards_do_not_move_when_an_image_is_added(photos):
    before = {im.file_name: im.id for im in scan_folder(photos)}
    shutil.copy(photos / "a.jpg", photos / "sub" / "0 first.jpg")  # sorts before the others
    after = {im.file_name: im.id for im in scan_folder(photos)}
    assert {k: after[k] for k in before} == before
    assert after["sub/0 first.jpg"] == path_id("sub/0 first.jpg")
    for n in (2, 5):
        old = {im.file_name for k in range(n) for im in shard_images(scan_folder(photos), k, n)}
        assert old == set(after)  # every image in exactly one shard
        assert sum(len(shard_images(scan_folder(photos), k, n)) for k in range(n)) == len(after)


def test_id_clash_is_resolved_in_sorted_order(monkeypatch):
    monkeypatch.setattr(image_folder, "path_id", lambda rel: 7)
    assert [(im.id, im.file_name) for im in assign_ids(["b", "a", "c"])] == [
        (7, "a"), (8, "b"), (9, "c")]


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("x")
    with pytest.raises(WorkflowError, match=r"empty holds no image files .*\.jpg"):
        scan_folder(tmp_path / "empty")
    with pytest.raises(WorkflowError, match="nope does not exist or is not a folder"):
        scan_folder(tmp_path / "nope")


def test_no_readable_image_lists_every_file(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"garbage" * 10)
    (tmp_path / "y.png").write_bytes(b"")
    with pytest.raises(WorkflowError) as err:
        check_some_readable(tmp_path, scan_folder(tmp_path))
    text = str(err.value)
    assert "none of the 2 image file(s)" in text
    assert "x.jpg: cannot be decoded" in text and "y.png: file is empty" in text


def test_shard_listing_is_an_annotation_file_for_preprocess(photos, tmp_path):
    log = tmp_path / "log.txt"
    docs = []
    with open(log, "w") as fh:
        for k in range(2):
            docs.append(write_listing(photos, k, 2, tmp_path / f"l{k}.json", log=fh))
    entries = [e for d in docs for e in d["images"]]
    assert sorted(e["file_name"] for e in entries) == ["a.jpg", "sub/b c.JPG"]
    bad = [u for d in docs for u in d["unreadable"]]
    assert [u["file_name"] for u in bad] == ["broken.jpg"]
    assert "unreadable, skipped: image" in log.read_text() and "broken.jpg" in log.read_text()
    for k, d in enumerate(docs):  # the preprocess stage's reader accepts the listing
        recs = image_records(load_keypoint_annotations(tmp_path / f"l{k}.json"))
        assert [(r.id, r.file_name) for r in recs] == [(e["id"], e["file_name"])
                                                       for e in d["images"]]
        assert all(path_id(r.file_name) % 2 == k for r in recs)
    a = next(e for e in entries if e["file_name"] == "a.jpg")
    assert (a["height"], a["width"]) == cv2.imread(str(photos / "a.jpg")).shape[:2]
    got, unreadable, source = read_listings([tmp_path / "l0.json", tmp_path / "l1.json"])
    assert len(got) == 2 and len(unreadable) == 1 and source == "images"


def test_preprocess_takes_every_image_of_a_shard_listing(photos, tmp_path):
    """A listing already is one shard: preprocess must not split it again (the oracle
    workflow test failed that way, one of two images of a shard was never preprocessed)."""
    from higherhrnet.preprocess.stage import preprocess_shard

    for name in ("d", "e", "f"):  # 5 readable images: one of 2 shards holds 3 or more
        shutil.copy(photos / "a.jpg", photos / "sub" / f"{name}.jpg")
    shard = max(range(2), key=lambda k: len(shard_images(scan_folder(photos), k, 2)))
    doc = write_listing(photos, shard, 2, tmp_path / "l.json", log=None)
    assert len(doc["images"]) >= 3
    m = preprocess_shard(tmp_path / "l.json", photos, manifest_path=tmp_path / "m.json",
                         shard=shard, num_shards=2)
    assert [e.file_name for e in m.entries] == [e["file_name"] for e in doc["images"]]
    with pytest.raises(WorkflowError, match=f"holds shard {shard} of 2, asked for 0 of 1"):
        preprocess_shard(tmp_path / "l.json", photos, manifest_path=tmp_path / "m.json")


# ---------------------------------------------------------------------------- video

def make_video(path, frames, fps=10.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


@pytest.fixture
def video(tmp_path):
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(7)]
    return make_video(tmp_path / "clip.mp4", frames)


def test_probe_names_container_and_codec(video, tmp_path):
    info = probe_video(video)
    assert (info.width, info.height, info.fps) == (64, 48, 10.0)
    assert info.container.startswith("MP4") and info.codec != "unknown"
    with pytest.raises(WorkflowError, match="does not exist"):
        probe_video(tmp_path / "missing.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[:40] + b"x" * 1000)  # header kept, no moov atom
    with pytest.raises(WorkflowError, match=r"cannot be opened .*container: MP4/QuickTime"):
        probe_video(cut)
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00\x11junk" * 100)
    with pytest.raises(WorkflowError, match="not a container OpenCV knows"):
        probe_video(junk)


def test_sampled_frames_stride_limit_and_timestamps(video):
    got = [(j, i, t, round(f.mean() / 20)) for j, i, t, f in sampled_frames(video, 3, 0)]
    assert [(j, i, t) for j, i, t, _ in got] == [(0, 0, 0.0), (1, 3, 0.3), (2, 6, 0.6)]
    assert [m for *_, m in got] == [0, 3, 6]  # the pixels of those frames (mp4v is lossy)
    assert [i for _, i, _, _ in sampled_frames(video, 2, 2)] == [0, 2]
    assert [i for _, i, _, _ in sampled_frames(video, 1, 0, keep=lambda j: j % 3 == 1)] == [1, 4]


def test_extract_shards_round_robin_and_annotated_video(video, tmp_path):
    listings = []
    for k in range(2):
        d = extract_shard(video, stride=2, max_frames=3, shard=k, num_shards=2,
                          frames_dir=tmp_path / f"f{k}", listing_path=tmp_path / f"l{k}.json")
        listings.append(tmp_path / f"l{k}.json")
        assert [e["frame"] for e in d["images"]] == [[0, 4], [2]][k]
        for e in d["images"]:
            assert cv2.imread(str(tmp_path / f"f{k}" / e["file_name"])).shape == (48, 64, 3)
    entries, _, source = read_listings(listings)
    assert source == "video" and sorted(e["timestamp_s"] for e in entries) == [0.0, 0.2, 0.4]
    person = {"image_id": 2, "category_id": 1, "score": 0.9,
              "keypoints": [30.0, 20.0, 0.9] * 17}
    n = annotate_video(video, [person], stride=2, max_frames=3, output=tmp_path / "out.mp4",
                       drawings_dir=tmp_path / "d", drawings=2)
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert n == 3 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)
    frames = []
    while (ok := cap.read())[0]:
        frames.append(ok[1])
    assert len(frames) == 3 and frames[1].shape == (48, 64, 3)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "frame_00000000.jpg", "frame_00000002.jpg"]


# ---------------------------------------------------------------------------- predictions

def test_predictions_tables(tmp_path):
    entries = [{"id": 5, "file_name": "z.jpg", "width": 10, "height": 8},
               {"id": 9, "file_name": "sub/a b.jpg", "width": 4, "height": 4}]
    unreadable = [{"image_id": 3, "file_name": "bad.jpg", "error": "image bad.jpg: empty"}]
    kp = [float(v) for v in range(51)]
    results = [{"image_id": 5, "category_id": 1, "keypoints": kp, "score": 0.2},
               {"image_id": 5, "category_id": 1, "keypoints": kp, "score": 0.7},
               {"image_id": 9, "category_id": 1, "keypoints": kp, "score": 0.5}]
    out = {k: tmp_path / f"{k}.out" for k in ("predictions", "keypoints", "index", "bad")}
    write_predictions(results, entries, unreadable, "images", predictions=out["predictions"],
                      keypoints=out["keypoints"], index=out["index"],
                      unreadable_list=out["bad"])
    preds = json.loads(out["predictions"].read_text())
    assert [(p["image_id"], p["file_name"], p["score"]) for p in preds] == [
        (9, "sub/a b.jpg", 0.5), (5, "z.jpg", 0.7), (5, "z.jpg", 0.2)]
    assert list(preds[0])[:2] == ["image_id", "file_name"]
    table = pd.read_csv(out["keypoints"])
    assert list(table.columns[:5]) == ["image_id", "file_name", "person", "score", "nose_x"]
    assert list(table.columns[4:]) == KEYPOINT_COLUMNS and len(table) == 3
    assert table.loc[1, "person"] == 0 and table.loc[2, "person"] == 1
    assert table.loc[0, "right_ankle_score"] == 50.0
    index = pd.read_csv(out["index"])
    assert list(index["file_name"]) == ["bad.jpg", "sub/a b.jpg", "z.jpg"]
    assert list(index["status"]) == ["unreadable", "ok", "ok"] and list(index["people"]) == [0, 1, 2]
    assert out["bad"].read_text() == "bad.jpg: image bad.jpg: empty\n"
    with pytest.raises(WorkflowError, match="image id"):
        write_predictions(results + [{"image_id": 77, "keypoints": kp, "score": 1.0}], entries,
                          [], "images", predictions=out["predictions"],
                          keypoints=out["keypoints"], index=out["index"],
                          unreadable_list=out["bad"])


def test_odd_folders_symlinks_loops_and_non_utf8_names(photos, tmp_path, coco_sample):
    """Symlinked folders followed once (a loop or a second way in skipped with a note); a
    name that is not UTF-8 skipped from the images a run tracks, with its id all the same,
    and listed as unreadable in its shard (named with \\xNN)."""
    elsewhere = tmp_path / "else"
    elsewhere.mkdir()
    shutil.copy(photos / "a.jpg", elsewhere / "x.jpg")
    (photos / "linked").symlink_to(elsewhere)
    (photos / "twice").symlink_to(elsewhere)
    (photos / "sub" / "up").symlink_to(photos)
    shutil.copy(photos / "a.jpg", os.path.join(os.fsencode(photos), b"\xe9t\xe9.jpg"))
    (photos / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    found = image_folder.scan(photos)
    assert (f"gone.jpg: skipped (a symbolic link to {tmp_path / 'nowhere.jpg'}, which does not "
            "exist)") in found.notes
    names = [im.file_name for im in found.images]
    assert names == ["a.jpg", "broken.jpg", "linked/x.jpg", "sub/b c.JPG"]
    assert [im.file_name for im in found.bad_names] == [os.fsdecode(b"\xe9t\xe9.jpg")]
    assert found.bad_names[0].id == image_folder.path_id(os.fsdecode(b"\xe9t\xe9.jpg"))
    assert any(n.startswith("symlinked folder sub/up: skipped (it leads to") for n in found.notes)
    assert any(n.startswith("symlinked folder twice: skipped") for n in found.notes)
    warnings = found.warnings(photos)
    assert any("\\xe9t\\xe9.jpg: the file name is not valid UTF-8" in w for w in warnings)
    shard = found.bad_names[0].id % 2
    doc = write_listing(photos, shard, 2, tmp_path / "l.json", log=io.StringIO())
    bad = [u for u in doc["unreadable"] if "UTF-8" in u["error"]]
    assert [u["file_name"] for u in bad] == ["\\xe9t\\xe9.jpg"]
    json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))


def test_folder_of_only_non_utf8_names_says_why_it_holds_nothing(tmp_path, coco_sample):
    (tmp_path / "in").mkdir()
    shutil.copy(coco_sample / "images" / "000000000785.jpg",
                os.path.join(os.fsencode(tmp_path / "in"), b"a\xff.jpg"))
    with pytest.raises(WorkflowError, match=r"holds no image files .*a\\xff\.jpg: the file name "
                                            r"is not valid UTF-8"):
        scan_folder(tmp_path / "in")


def test_annotation_file_name_that_is_not_utf8_is_refused(tmp_path, coco_sample):
    gt = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    gt["images"][0]["file_name"] = "a\udcff.jpg"  # a JSON escape "\udcff" reads back so
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(gt))
    with pytest.raises(WorkflowError, match=r"images\[0\] file_name 'a\\xff\.jpg' is not valid"):
        load_keypoint_annotations(path)
