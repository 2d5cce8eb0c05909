"""The reference's multi-scale test: per-scale preprocess geometry and warps
(multiscale_geometry.json), shape sets, and the multi-scale postprocess of the oracle dumps
(multiscale_dumps.npz -> multiscale_expected_results.json and its COCOeval stats)."""

import json

import cv2
import numpy as np
import pytest

from higherhrnet.data.coco import load_keypoint_annotations
from higherhrnet.preprocess.manifest import Manifest
from higherhrnet.preprocess.stage import preprocess_shard
from higherhrnet.preprocess.shapes import (ASCEND_SHAPES, check_scales, descending, input_geometry,
                                shape_set)
from higherhrnet.preprocess.transforms import flip_width, reference_affine, to_normalized_tensor

SCALES = (2.0, 1.0, 0.5)


@pytest.fixture(scope="module")
def geometry(reference):
    return json.loads((reference / "multiscale" / "multiscale_geometry.json").read_text())


@pytest.fixture(scope="module")
def sample_images(coco_sample):
    ann = coco_sample / "person_keypoints_sample.json"
    return ann, {f"{im['id']:012d}": im for im in load_keypoint_annotations(ann)["images"]}


@pytest.mark.parametrize("policy", ["reference", "ascend17"])
def test_sizes_match_reference(geometry, sample_images, policy):
    _, images = sample_images
    assert set(geometry) == set(images)
    for stem, g in geometry.items():
        im = images[stem]
        base = input_geometry(im["width"], im["height"], policy, 512, 1.0, 0.5)
        assert (base.input_w, base.input_h) == (g["base_w"], g["base_h"]), stem
        for key, ref in g["scales"].items():
            geom = input_geometry(im["width"], im["height"], policy, 512, float(key), 0.5)
            assert (geom.input_w, geom.input_h) == (ref["input_w"], ref["input_h"]), (stem, key)
            assert list(geom.center) == ref["center"]
            np.testing.assert_allclose(geom.scale, ref["scale"], rtol=0, atol=1e-12)
            np.testing.assert_allclose(reference_affine(geom), ref["forward_affine"],
                                       rtol=0, atol=1e-9)


@pytest.mark.parametrize("scale", SCALES)
def test_preprocess_per_scale_equals_reference_warp(tmp_path, coco_sample, geometry,
                                                    sample_images, scale):
    """scripts/preprocess.py --scale S --min-scale 0.5: the reference warp of each image at
    that scale (warpAffine with the fixture's matrix, normalised; flip: its width flip), and
    the manifest records the scale's geometry."""
    ann, images = sample_images
    manifest = preprocess_shard(ann, coco_sample / "images", out_dir=tmp_path / "n",
                                flip_out_dir=tmp_path / "f", manifest_path=tmp_path / "m.json",
                                policy="reference", scale=scale, min_scale=0.5)
    read = Manifest.read(tmp_path / "m.json")
    assert (read.scale, read.min_scale, read.input_size) == (scale, 0.5, 512)
    assert len(manifest.entries) == len(geometry)
    key = f"{scale:.1f}"
    for e in read.entries:
        ref = geometry[e.stem]["scales"][key]
        assert (e.input_w, e.input_h, list(e.center)) == (ref["input_w"], ref["input_h"],
                                                          ref["center"])
        np.testing.assert_allclose(e.scale, ref["scale"], rtol=0, atol=1e-12)
        base = read.base_geometry(e)
        assert (base.input_w, base.input_h) == (geometry[e.stem]["base_w"],
                                                geometry[e.stem]["base_h"])
        img = cv2.imread(str(coco_sample / "images" / images[e.stem]["file_name"]),
                         cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[:, :, ::-1]
        warped = cv2.warpAffine(np.ascontiguousarray(img), np.array(ref["forward_affine"]),
                                (ref["input_w"], ref["input_h"]))
        expected = to_normalized_tensor(warped)
        np.testing.assert_array_equal(np.load(tmp_path / "n" / f"{e.stem}.npy"), expected)
        np.testing.assert_array_equal(np.load(tmp_path / "f" / f"{e.stem}.npy"),
                                      flip_width(expected))


def test_one_scale_is_todays_geometry():
    for w, h in [(640, 427), (427, 640), (640, 300), (500, 500)]:
        for policy in ("reference", "ascend17"):
            assert input_geometry(w, h, policy, 512, 1.0, 1.0) == input_geometry(w, h, policy)


def test_shape_sets():
    assert shape_set() == ASCEND_SHAPES
    assert shape_set(512, [1]) == ASCEND_SHAPES
    ms = shape_set(512, [0.5, 1, 2])
    assert len(ms) == 27 and len(set(ms)) == 27
    assert (1024, 1792) in ms and (1024, 2048) in ms and (256, 256) in ms
    assert len(shape_set(640, [1])) == 21 and shape_set(640, [1])[0] == (1280, 640)
    assert len(shape_set(640, [0.5, 1, 2])) == 33
    # every shape the ascend17 policy produces is in the set
    for policy_scales in ([1], [0.5, 1, 2], [1, 0.5]):
        shapes = set(shape_set(640, policy_scales))
        for w, h in [(640, 427), (427, 640), (640, 200), (333, 1000), (500, 500)]:
            for s in policy_scales:
                g = input_geometry(w, h, "ascend17", 640, s, min(policy_scales))
                assert (g.input_h, g.input_w) in shapes


def test_scale_checks():
    assert descending([0.5, 2, 1]) == [2.0, 1.0, 0.5]
    assert check_scales([1]) == [1.0]
    with pytest.raises(ValueError, match="must hold 1"):
        check_scales([0.5, 2])
    with pytest.raises(ValueError, match="multiples of 32"):
        check_scales([0.6, 1])
    with pytest.raises(ValueError, match="distinct"):
        check_scales([1, 1])
    with pytest.raises(ValueError, match="at most 100"):
        shape_set(640, [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4])


# ------------------------------------------------------------------ postprocess

def _write_dumps(tmp_path, coco_sample, reference, scales=SCALES):
    """Per scale: the manifest of the sample images at that scale and the oracle outputs in
    ais_bench's layout; returns the postprocess CLI's per-scale flags (--scales order)."""
    dumps = np.load(reference / "multiscale" / "multiscale_dumps.npz")
    ann = coco_sample / "person_keypoints_sample.json"
    flags = []
    for s in scales:
        d = tmp_path / f"s{s:g}"
        manifest = preprocess_shard(ann, coco_sample / "images", manifest_path=d / "m.json",
                                    policy="reference", scale=s, min_scale=min(scales))
        for name, key in (("output_dir", "normal"), ("output_flip_dir", "flip")):
            (d / name).mkdir(parents=True)
            for e in manifest.entries:
                for i in (0, 1):
                    np.save(d / name / f"{e.stem}_{i}.npy", dumps[f"{e.stem}_s{s:.1f}_{key}_{i}"])
        flags += ["--dump_dir", str(d / "output_dir"), "--dump_dir_flip",
                  str(d / "output_flip_dir"), "--manifest", str(d / "m.json")]
    return flags


@pytest.fixture(scope="module")
def postprocess_script(root):
    from test_postprocess import _load_script

    return _load_script(root, "postprocess")


@pytest.fixture(scope="module")
def dump_flags(tmp_path_factory, coco_sample, reference):
    return _write_dumps(tmp_path_factory.mktemp("ms_dumps"), coco_sample, reference)


def _by_image(results):
    out = {}
    for r in results:
        out.setdefault(r["image_id"], []).append(r)
    return out


def test_postprocess_gives_reference_results(tmp_path, reference, dump_flags,
                                             postprocess_script, path="fast"):
    """scripts/postprocess.py --scales 2,1,0.5 on the oracle dumps: the reference's people
    (same count and order per image), keypoints within 1e-3 px, scores within 1e-5, and the
    reference's COCOeval stats."""
    from higherhrnet.evaluation.cocoeval import METRICS, evaluate
    out = tmp_path / "results.json"
    # scales given in another order than visited: the flags follow --scales
    assert postprocess_script.main(["--scales", "2,1,0.5", *dump_flags, "--output",
                                            str(out), "--path", path]) == 0
    got = json.loads(out.read_text())
    expected = json.loads((reference / "multiscale" / "multiscale_expected_results.json")
                          .read_text())
    got_by, exp_by = _by_image(got), _by_image(expected)
    assert set(got_by) == set(exp_by)
    for image_id, people in exp_by.items():
        assert len(got_by[image_id]) == len(people), image_id
        for g, e in zip(got_by[image_id], people):
            np.testing.assert_allclose(np.reshape(g["keypoints"], (17, 3))[:, :2],
                                       np.reshape(e["keypoints"], (17, 3))[:, :2], atol=1e-3)
            np.testing.assert_allclose(np.reshape(g["keypoints"], (17, 3))[:, 2],
                                       np.reshape(e["keypoints"], (17, 3))[:, 2], atol=1e-5)
            assert g["score"] == pytest.approx(e["score"], abs=1e-5)
    stats = json.loads((reference / "multiscale" / "multiscale_expected_stats.json").read_text())
    metrics = evaluate(reference / "multiscale" / "multiscale_gt.json", got)
    np.testing.assert_allclose([metrics[m] for m in METRICS], stats["values"], atol=1e-9)


def test_postprocess_flags_must_follow_scales(tmp_path, dump_flags, postprocess_script):
    from higherhrnet.errors import WorkflowError
    main = postprocess_script.main
    with pytest.raises(WorkflowError, match="given for scale 0.5"):  # flags in other order
        main(["--scales", "0.5,1,2", *dump_flags, "--output", str(tmp_path / "r.json")])
    with pytest.raises(WorkflowError, match="need as many"):
        main(["--scales", "2,1,0.5", *dump_flags[:6], "--output", str(tmp_path / "r.json")])


def test_reference_path_equals_fast_path(dump_flags):
    """postprocess.path reference on the multi-scale maps: the same people (one image, the
    dense reference parser is slow)."""
    from higherhrnet.postprocess.multiscale import postprocess_scales

    manifests = [Manifest.read(p) for p in dump_flags[5::6]]
    for m in manifests:
        m.entries = m.entries[:1]
    dirs, flips = dump_flags[1::6], dump_flags[3::6]
    fast = postprocess_scales(list(SCALES), manifests, dirs, flips, path="fast", log=False)
    ref = postprocess_scales(list(SCALES), manifests, dirs, flips, path="reference", log=False)
    assert len(fast) == len(ref) > 0
    for f, r in zip(fast, ref):
        np.testing.assert_allclose(f["keypoints"], r["keypoints"], atol=1e-4)
        assert f["score"] == pytest.approx(r["score"], abs=1e-6)
