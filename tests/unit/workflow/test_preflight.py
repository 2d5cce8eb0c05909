"""Every check of higherhrnet.workflow.preflight as a plain function: what it refuses (with a
message naming the key) and what it lets through, and preflight()'s order and switches."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support.config import make_config

from higherhrnet.workflow import preflight as pf
from higherhrnet.workflow.config import ConfigProblem, settings
from higherhrnet.workflow.paths import artifact_paths


def run_of(**overrides):
    config = make_config(**overrides)
    s = settings(config)
    return config, s, artifact_paths(config, s)


def coco_tree(root, images=True, annotations=True):
    if annotations:
        (root / "annotations").mkdir(parents=True)
        (root / "annotations" / "person_keypoints_val2017.json").write_text("{}")
    if images:
        (root / "images" / "val2017").mkdir(parents=True)
    return root


@pytest.mark.parametrize("argv, dry", [
    (["snakemake"], False), (["snakemake", "-n"], True), (["snakemake", "-np"], True),
    (["snakemake", "--dry-run"], True), (["snakemake", "--just-print"], True),
    (["snakemake", "--cores", "2"], False), (["snakemake", "-p"], False),
    (["snakemake", "--notemp"], False)])
def test_is_dry_run_reads_the_command_line(argv, dry):
    assert pf.is_dry_run(False, argv) is dry
    assert pf.is_dry_run(True, ["snakemake"]) is True


def test_cross_fields_nms_kernel_and_padding():
    pf.check_cross_fields(make_config())
    with pytest.raises(ConfigProblem, match="nms_kernel 3 with postprocess.nms_padding 2"):
        pf.check_cross_fields(make_config(postprocess={"nms_kernel": 3}))


def test_unpack_target_refuses_the_users_own_files(tmp_path):
    pf.check_unpack_target(str(tmp_path / "empty"), "data/coco")  # nothing there: fine
    coco_tree(tmp_path / "complete")
    pf.check_unpack_target(str(tmp_path / "complete"), "data/coco")  # complete: used as is
    coco_tree(tmp_path / "theirs", annotations=False)
    with pytest.raises(ConfigProblem, match="not written by this workflow"):
        pf.check_unpack_target(str(tmp_path / "theirs"), "data/coco")
    (tmp_path / "theirs" / ".unpacked_by_higherhrnet_workflow").write_text("")
    pf.check_unpack_target(str(tmp_path / "theirs"), "data/coco")  # ours: may be replaced


def test_coco_folder_inputs(tmp_path):
    coco_tree(tmp_path)
    ann = str(tmp_path / "annotations" / "person_keypoints_val2017.json")
    img = str(tmp_path / "images" / "val2017")
    assert pf.coco_folder_inputs({"annotations": ann, "images": img}) == (ann, img)
    with pytest.raises(ConfigProblem, match="set dataset.annotations and dataset.images"):
        pf.coco_folder_inputs({"annotations": "", "images": img})
    with pytest.raises(ConfigProblem, match="dataset.annotations: .* is not a file"):
        pf.coco_folder_inputs({"annotations": img, "images": img})
    with pytest.raises(ConfigProblem, match="dataset.images: .* is not a folder"):
        pf.coco_folder_inputs({"annotations": ann, "images": ann})


def test_coco_val2017_inputs_guide_layout_or_download_dir(tmp_path):
    coco_tree(tmp_path / "coco")
    d = {"coco_root": str(tmp_path / "coco"), "download_dir": str(tmp_path / "dl")}
    assert pf.coco_val2017_inputs(d)[1] == str(tmp_path / "coco" / "images" / "val2017")
    d["coco_root"] = str(tmp_path / "missing")
    assert pf.coco_val2017_inputs(d)[1] == str(tmp_path / "dl" / "images" / "val2017")


def test_image_folder_images(tmp_path, coco_sample):
    images = pf.image_folder_images({"images": str(coco_sample / "images")})
    assert len(images) == 8
    with pytest.raises(ConfigProblem, match="set dataset.images"):
        pf.image_folder_images({"images": ""})
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ConfigProblem, match="config problem: "):
        pf.image_folder_images({"images": str(tmp_path)})


def test_check_video(tmp_path):
    with pytest.raises(ConfigProblem, match="set dataset.video"):
        pf.check_video({"video": ""})
    with pytest.raises(ConfigProblem, match="does not exist"):
        pf.check_video({"video": str(tmp_path / "nope.mp4")})
    (tmp_path / "bad.mp4").write_bytes(b"\0" * 100)
    with pytest.raises(ConfigProblem, match="bad.mp4"):
        pf.check_video({"video": str(tmp_path / "bad.mp4")})


def test_dataset_inputs_per_dataset(coco_sample):
    config, s, p = run_of(dataset={"name": "synthetic"})
    assert pf.dataset_inputs(config, s, p) == pf.Inputs(
        p.synthetic_annotations, p.synthetic_images,
        most_images=config["dataset"]["synthetic_images"])
    config, s, p = run_of(dataset={"name": "images", "images": str(coco_sample / "images")})
    inputs = pf.dataset_inputs(config, s, p)
    assert inputs.annotations == p.listing and len(inputs.folder_images) == 8


def test_weights_path(tmp_path):
    config, s, p = run_of()
    assert pf.weights_path(config, s, p) == p.official_weights
    config, s, p = run_of(weights={"source": "synthetic"}, model={"variant": "w48_640"})
    assert pf.weights_path(config, s, p).endswith("synthetic_untrained_higherhrnet_w48_640.pth")
    config, s, p = run_of(model={"variant": "w48_640"})
    with pytest.raises(ConfigProblem, match="w48_640: HigherHRNet-W48-640 has no official"):
        pf.weights_path(config, s, p)
    config, s, p = run_of(weights={"source": "local"})
    with pytest.raises(ConfigProblem, match="set weights.path"):
        pf.weights_path(config, s, p)
    config, s, p = run_of(weights={"source": "local", "path": str(tmp_path / "w.pth")})
    with pytest.raises(ConfigProblem, match="weights.path: .*w.pth does not exist"):
        pf.weights_path(config, s, p)
    (tmp_path / "w.pth").write_bytes(b"x")
    assert pf.weights_path(config, s, p) == str(tmp_path / "w.pth")


def test_ais_bench_paths_characters_and_links(tmp_path):
    pf.check_ais_bench_paths(["results/x/prep/shard0/prep_dir"])
    with pytest.raises(ConfigProblem, match="1 path\\(s\\) handed to ais_bench break its rule"):
        pf.check_ais_bench_paths(["results/my data/prep"])
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(ConfigProblem, match="link: is a symbolic link"):
        pf.check_ais_bench_paths([str(tmp_path / "link")])


def test_check_backend_uses_the_records_check_and_the_ais_bench_paths(tmp_path, monkeypatch):
    config, s, p = run_of()
    pf.check_backend(config, s, p, p.official_weights)  # onnxruntime is installed here
    config, s, p = run_of(backend="ascend", ascend={"cann_env": str(tmp_path / "nope.sh")})
    with pytest.raises(ConfigProblem, match="CANN environment script .*nope.sh"):
        pf.check_backend(config, s, p, p.official_weights)
    (tmp_path / "set_env.sh").write_text("")
    config, s, p = run_of(backend="ascend", ascend={"cann_env": str(tmp_path / "set_env.sh")},
                          shards=1)
    monkeypatch.chdir(tmp_path)
    pf.check_backend(config, s, p, p.official_weights)
    infer = Path(p.infer.format(geo="", shard=0))
    infer.parent.mkdir(parents=True)
    infer.symlink_to(tmp_path)
    with pytest.raises(ConfigProblem, match="infer/shard0: is a symbolic link"):
        pf.check_backend(config, s, p, p.official_weights)


def test_check_disk_refuses_a_run_that_will_not_fit(tmp_path, monkeypatch, coco_sample):
    monkeypatch.chdir(tmp_path)
    config, s, p = run_of(dataset={"name": "synthetic"}, shards=1)
    ann = str(coco_sample / "person_keypoints_sample.json")
    pf.check_disk(config, s, p, ann, at_once=2)
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 1000))
    with pytest.raises(ConfigProblem, match="config problem: .*disk"):
        pf.check_disk(config, s, p, ann, at_once=2)


def test_disk_check_wanted_only_for_a_real_run_that_writes(coco_sample):
    ann = str(coco_sample / "person_keypoints_sample.json")
    config, s, _ = run_of()
    want = dict(dry_run=False, main_process=True, argv=["snakemake"])
    assert pf.disk_check_wanted(config, s, ann, **want)
    assert not pf.disk_check_wanted(config, s, "missing.json", **want)
    assert not pf.disk_check_wanted(config, s, ann, **{**want, "dry_run": True})
    assert not pf.disk_check_wanted(config, s, ann, **{**want, "main_process": False})
    assert not pf.disk_check_wanted(config, s, ann, **{**want, "argv": ["snakemake", "--unlock"]})
    config, s, _ = run_of(disk_check=False)
    assert not pf.disk_check_wanted(config, s, ann, **want)
    config, s, _ = run_of(dataset={"name": "video", "video": "v.mp4"})
    assert not pf.disk_check_wanted(config, s, ann, **want)


def test_preflight_runs_every_check_and_skips_tools_on_a_dry_run(tmp_path):
    config, s, p = run_of(dataset={"name": "synthetic"}, weights={"source": "synthetic"},
                          backend="ascend", ascend={"cann_env": str(tmp_path / "nope.sh")})
    inputs = pf.preflight(config, s, p, dry_run=True, main_process=True, argv=["x"], at_once=2)
    assert inputs.weights == p.synthetic_weights
    with pytest.raises(ConfigProblem, match="CANN environment script"):
        pf.preflight(config, s, p, dry_run=False, main_process=True, argv=["x"], at_once=2)
    config, s, p = run_of(postprocess={"nms_kernel": 7})
    with pytest.raises(ConfigProblem, match="nms_kernel 7"):
        pf.preflight(config, s, p, dry_run=True, main_process=True, argv=["x"], at_once=2)


def test_images_the_annotations_list_must_be_in_the_folder(tmp_path, coco_sample):
    """Issue 21: a missing image failed only in its preprocess job, after the export."""
    images = tmp_path / "imgs"
    shutil.copytree(coco_sample / "images", images)
    ann = str(coco_sample / "person_keypoints_sample.json")
    pf.check_annotated_images(ann, str(images))  # all there
    pf.check_annotated_images(str(tmp_path / "not yet downloaded.json"), str(images))
    (images / "000000000785.jpg").unlink()
    (images / "000000040083.jpg").unlink()
    (images / "000000040083.jpg").mkdir()  # not a file
    with pytest.raises(ConfigProblem, match=r"dataset.images: 2 of the 8 images listed in .* are "
                                            r"missing from .*: 000000000785.jpg, 000000040083.jpg"):
        pf.check_annotated_images(ann, str(images))


def test_preflight_prints_the_folder_warnings_once(tmp_path, coco_sample, capsys):
    photos = tmp_path / "photos"
    shutil.copytree(coco_sample / "images", photos)
    (photos / "loop").symlink_to(photos)
    config, s, p = run_of(dataset={"name": "images", "images": str(photos)},
                          weights={"source": "synthetic"})
    inputs = pf.preflight(config, s, p, dry_run=True, main_process=True, argv=["x"], at_once=2)
    assert len(inputs.folder_images) == 8
    assert "warning: symlinked folder loop: skipped" in capsys.readouterr().err
    pf.preflight(config, s, p, dry_run=True, main_process=False, argv=["x"], at_once=2)
    assert capsys.readouterr().err == ""  # a job's own Snakemake says nothing


# --------------------------------------------------- shards capped to the images (issue 27)


def test_synthetic_shards_are_capped_to_its_images_with_one_message(capsys):
    config, s, p = run_of(dataset={"name": "synthetic", "synthetic_images": 4}, shards=50)
    inputs = pf.preflight(config, s, p, dry_run=True, main_process=True, argv=["snakemake"],
                          at_once=2)
    planned = inputs.settings
    # contiguous blocks: with 4 images only shards 0..3 hold one; --num-shards is unchanged
    assert (planned.shards, planned.run_shards) == (50, (0, 1, 2, 3))
    err = capsys.readouterr().err
    assert err.count("shards: 50 for 4 image(s): 4 shard(s) get jobs") == 1, err
    # a job process (Snakemake parses the workflow again) plans the same, silently
    again = pf.preflight(config, s, p, dry_run=False, main_process=False, argv=["snakemake"],
                         at_once=2)
    assert again.settings == planned and capsys.readouterr().err == ""


def test_shards_not_above_the_images_are_left_as_configured(capsys):
    config, s, p = run_of(dataset={"name": "synthetic", "synthetic_images": 4}, shards=4)
    inputs = pf.preflight(config, s, p, dry_run=True, main_process=True, argv=["snakemake"],
                          at_once=2)
    assert inputs.settings is s and s.run_shards == (0, 1, 2, 3)
    assert capsys.readouterr().err == ""


def test_own_images_run_only_the_shards_they_fall_in(tmp_path, coco_sample):
    from higherhrnet.data.image_folder import path_id

    photos = tmp_path / "photos"
    photos.mkdir()
    first = min((coco_sample / "images").glob("*.jpg"))
    (photos / "one.jpg").write_bytes(first.read_bytes())
    config, s, p = run_of(dataset={"name": "images", "images": str(photos)}, shards=50)
    planned = pf.plan_shards(s, pf.dataset_inputs(config, s, p))
    one = path_id("one.jpg") % 50
    assert (planned.shards, planned.run_shards) == (50, (one,))
    # an added image keeps the first in its shard: only the new image's shard is new work
    other = next(f"photo{i}.jpg" for i in range(100) if path_id(f"photo{i}.jpg") % 50 != one)
    (photos / other).write_bytes(first.read_bytes())
    planned = pf.plan_shards(s, pf.dataset_inputs(config, s, p))
    assert planned.run_shards == tuple(sorted({one, path_id(other) % 50}))


def test_coco_folder_counts_its_annotation_file(coco_sample):
    config, s, p = run_of(dataset={"name": "coco_folder", "images": str(coco_sample / "images"),
                                   "annotations": str(coco_sample / "person_keypoints_sample.json")},
                          shards=50)
    planned = pf.plan_shards(s, pf.dataset_inputs(config, s, p))
    assert planned.run_shards == tuple(range(8)) and planned.shards == 50


def test_annotations_the_run_downloads_are_not_counted(tmp_path, monkeypatch):
    # val2017 to be downloaded: the file appears in a job's process only, so none counts it
    monkeypatch.chdir(tmp_path)
    config, s, p = run_of(dataset={"coco_root": str(tmp_path / "none"),
                                   "download_dir": str(tmp_path / "dl")}, shards=50)
    inputs = pf.dataset_inputs(config, s, p)
    assert inputs.most_images is None and pf.plan_shards(s, inputs) == s
    coco_tree(tmp_path / "dl")  # unpacked by a job
    (tmp_path / "dl" / "annotations" / "person_keypoints_val2017.json").write_text(
        '{"images": [{"id": 1}]}')
    assert pf.dataset_inputs(config, s, p).most_images is None


@pytest.mark.parametrize("frame_count, stride, max_frames, most", [
    (6, 2, 2, 2), (7, 2, 0, 4), (0, 1, 0, None), (0, 3, 5, 5), (100, 1, 0, 100)])
def test_sampled_frames_at_most(frame_count, stride, max_frames, most):
    d = {"frame_stride": stride, "max_frames": max_frames}
    assert pf.sampled_frames_at_most(d, frame_count) == most


def test_video_caps_the_shard_count_itself():
    # its j-th frame goes to shard j % shards: every frame has a shard whatever the estimate
    _, s, p = run_of(shards=50)
    video = pf.replace(s, dataset="video")
    planned = pf.plan_shards(video, pf.Inputs(p.listing, p.frames, most_images=3))
    assert (planned.shards, planned.run_shards) == (3, (0, 1, 2))
    assert pf.plan_shards(video, pf.Inputs(p.listing, p.frames)) == video
