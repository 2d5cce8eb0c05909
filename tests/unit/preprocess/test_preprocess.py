"""Preprocess + flip preprocess: reference-exact tensors, manifest geometry, shards, bad input."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from higherhrnet.data.coco import load_keypoint_annotations, shard_bounds, shard_image_ids
from higherhrnet.errors import WorkflowError
from higherhrnet.postprocess.coco_results import to_image
from higherhrnet.preprocess.manifest import Manifest, stem_for
from higherhrnet.preprocess.stage import preprocess_shard
from higherhrnet.preprocess.shapes import ASCEND_SHAPES, input_geometry
from higherhrnet.data.coco import PERSON_CATEGORY
from higherhrnet.preprocess.transforms import (flip_width, reference_affine, to_normalized_tensor,
                                    warp_to_input)

WARP_CASES = [("land_120x90", "reference", "ref"), ("port_60x100", "reference", "ref"),
              ("wide_200x60", "reference", "ref"), ("wide_200x60", "ascend17", "ascend")]


def _write_dataset(tmp_path, images):
    """images: list of (image_id, HxWx3 uint8 RGB); PNG, so pixels are exact."""
    img_dir = tmp_path / "images"
    img_dir.mkdir(exist_ok=True)
    entries = []
    for image_id, arr in images:
        name = f"{image_id:012d}.png"
        cv2.imwrite(str(img_dir / name), arr[:, :, ::-1])
        entries.append({"id": image_id, "file_name": name,
                        "width": arr.shape[1], "height": arr.shape[0]})
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"images": entries, "annotations": [],
                               "categories": [PERSON_CATEGORY]}))
    return ann, img_dir


@pytest.fixture(scope="module")
def warp_cases(reference):
    return np.load(reference / "preprocess" / "warp_cases.npz")


@pytest.fixture(scope="module")
def size_rows(reference):
    return json.loads((reference / "preprocess" / "multi_scale_sizes.json").read_text())["rows"]


# ------------------------------------------------------------------ transform vs fixtures

@pytest.mark.parametrize("name,policy,key", WARP_CASES)
def test_warp_bit_exact(warp_cases, name, policy, key):
    img = warp_cases[f"{name}_image"]
    geom = input_geometry(img.shape[1], img.shape[0], policy)
    if f"{name}_{key}_center" in warp_cases:
        assert list(geom.center) == list(warp_cases[f"{name}_{key}_center"])
    np.testing.assert_allclose(geom.scale, warp_cases[f"{name}_{key}_scale"], rtol=0, atol=1e-12)
    out = warp_to_input(img, geom)
    expected = warp_cases[f"{name}_{key}_warped"]
    assert out.dtype == np.uint8 and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_affine_matrix_bit_exact(size_rows):
    for r in size_rows:
        for policy, key in (("reference", "ref"), ("ascend17", "ascend")):
            g = input_geometry(r["image_w"], r["image_h"], policy)
            np.testing.assert_array_equal(reference_affine(g), np.array(r[f"{key}_affine"]))


def test_normalisation_bit_exact(warp_cases):
    t = to_normalized_tensor(warp_cases["land_120x90_ref_warped"])
    expected = warp_cases["land_120x90_ref_input_nchw"]
    assert t.dtype == np.float32 and t.shape == expected.shape == (1, 3, 512, 704)
    assert t.flags.c_contiguous
    np.testing.assert_array_equal(t, expected)


def test_flip_width():
    t = np.arange(2 * 3 * 4, dtype=np.float32).reshape(1, 2, 3, 4)
    f = flip_width(t)
    assert f.flags.c_contiguous
    np.testing.assert_array_equal(f[0, 1, 2], [23, 22, 21, 20])
    np.testing.assert_array_equal(flip_width(f), t)


def test_preprocess_end_to_end_matches_fixture(tmp_path, warp_cases):
    """Images written as PNG, run through the stage: tensors equal the reference's."""
    ann, img_dir = _write_dataset(tmp_path, [(1, warp_cases["land_120x90_image"]),
                                             (2, warp_cases["wide_200x60_image"])])
    man = preprocess_shard(ann, img_dir, out_dir=tmp_path / "p", flip_out_dir=tmp_path / "f",
                           manifest_path=tmp_path / "m.json", policy="reference")
    assert [e.stem for e in man.entries] == ["000000000001", "000000000002"]
    t = np.load(tmp_path / "p" / "000000000001.npy")
    np.testing.assert_array_equal(t, warp_cases["land_120x90_ref_input_nchw"])
    np.testing.assert_array_equal(np.load(tmp_path / "f" / "000000000001.npy"),
                                  warp_cases["land_120x90_ref_input_nchw"][..., ::-1])
    wide = np.load(tmp_path / "p" / "000000000002.npy")
    np.testing.assert_array_equal(wide, to_normalized_tensor(warp_cases["wide_200x60_ref_warped"]))

    preprocess_shard(ann, img_dir, flip_out_dir=tmp_path / "fa",
                     manifest_path=tmp_path / "ma.json", policy="ascend17")
    flipped = np.load(tmp_path / "fa" / "000000000002.npy")
    assert flipped.shape == (1, 3, 512, 1024)
    np.testing.assert_array_equal(
        flipped, to_normalized_tensor(warp_cases["wide_200x60_ascend_warped"])[..., ::-1])
    assert not list((tmp_path / "p").glob("*.part")) and not list(tmp_path.glob(".*.part"))


# ------------------------------------------------------------------ geometry on every size

@pytest.mark.parametrize("policy,key", [("reference", "ref"), ("ascend17", "ascend")])
def test_manifest_geometry_every_size(tmp_path, size_rows, policy, key):
    imgs = [(i + 1, np.full((r["image_h"], r["image_w"], 3), 100 + i, np.uint8))
            for i, r in enumerate(size_rows)]
    ann, img_dir = _write_dataset(tmp_path, imgs)
    out = tmp_path / "p" if policy == "ascend17" else None  # tensors for the default policy
    preprocess_shard(ann, img_dir, out_dir=out, manifest_path=tmp_path / "m.json", policy=policy)
    man = Manifest.read(tmp_path / "m.json")
    assert man.shape_policy == policy and len(man.entries) == len(size_rows) == 28
    for e, r in zip(man.entries, size_rows):
        assert (e.width, e.height) == (r["image_w"], r["image_h"])
        assert (e.input_w, e.input_h) == (r[f"{key}_input_w"], r[f"{key}_input_h"]), r
        assert list(e.center) == r["center"]
        np.testing.assert_allclose(e.scale, r[f"{key}_scale"], rtol=0, atol=1e-12)
        if out is not None:
            t = np.load(out / f"{e.stem}.npy", mmap_mode="r")
            assert t.dtype == np.float32 and t.shape == (1, 3, e.input_h, e.input_w)
            assert (e.input_h, e.input_w) in ASCEND_SHAPES


def test_coco_sample_both_outputs(tmp_path, coco_sample):
    ann = coco_sample / "person_keypoints_sample.json"
    man = preprocess_shard(ann, coco_sample / "images", out_dir=tmp_path / "p",
                           flip_out_dir=tmp_path / "f", manifest_path=tmp_path / "m.json")
    coco = json.loads(ann.read_text())
    assert [e.image_id for e in man.entries] == [im["id"] for im in coco["images"]]
    for e, im in zip(man.entries, coco["images"]):
        assert e.stem == stem_for(im["id"]) and e.file_name == im["file_name"]
        assert e.geometry() == input_geometry(im["width"], im["height"], "ascend17")
        t = np.load(tmp_path / "p" / f"{e.stem}.npy")
        f = np.load(tmp_path / "f" / f"{e.stem}.npy")
        assert t.shape == (1, 3, e.input_h, e.input_w) and t.dtype == np.float32
        np.testing.assert_array_equal(f, t[..., ::-1])
    assert Manifest.read(tmp_path / "m.json").entries == man.entries


# ------------------------------------------------------------------ sharding

def test_shard_split_is_a_partition():
    for n in range(0, 12):
        ids = list(range(100, 100 + n))
        for num in range(1, 14):
            parts = [shard_image_ids(ids, k, num) for k in range(num)]
            assert sum(parts, []) == ids  # union = all, no overlap, JSON order kept
            sizes = [len(p) for p in parts]
            assert max(sizes) - min(sizes) <= 1
    assert shard_bounds(10, 0, 3) == (0, 4) and shard_bounds(10, 2, 3) == (7, 10)
    for bad in [(0, 0), (3, 3), (-1, 2)]:
        with pytest.raises(WorkflowError, match="shard"):
            shard_image_ids([1, 2], *bad)


def test_shards_of_sample_cover_all_images(tmp_path, coco_sample):
    ann = coco_sample / "person_keypoints_sample.json"
    stems = []
    for k in range(3):
        d = tmp_path / f"s{k}"
        man = preprocess_shard(ann, coco_sample / "images", manifest_path=d / "m.json",
                               shard=k, num_shards=3)
        assert (man.shard, man.num_shards) == (k, 3)
        stems += [e.stem for e in man.entries]
    all_ids = [im["id"] for im in load_keypoint_annotations(ann)["images"]]
    assert stems == [stem_for(i) for i in all_ids] and len(set(stems)) == 8


def test_empty_shard(tmp_path, coco_sample):
    man = preprocess_shard(coco_sample / "person_keypoints_sample.json", coco_sample / "images",
                           out_dir=tmp_path / "p", flip_out_dir=tmp_path / "f",
                           manifest_path=tmp_path / "m.json", shard=9, num_shards=10)
    assert man.entries == []
    assert Manifest.read(tmp_path / "m.json").entries == []
    assert list((tmp_path / "p").iterdir()) == [] and list((tmp_path / "f").iterdir()) == []


# ------------------------------------------------------------------ bad input

def test_missing_image_names_file(tmp_path):
    ann, img_dir = _write_dataset(tmp_path, [(5, np.zeros((20, 30, 3), np.uint8))])
    (img_dir / "000000000005.png").unlink()
    with pytest.raises(WorkflowError, match=r"000000000005\.png: file not found"):
        preprocess_shard(ann, img_dir, out_dir=tmp_path / "p", manifest_path=tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_size_disagreeing_with_annotation(tmp_path):
    ann, img_dir = _write_dataset(tmp_path, [(5, np.zeros((20, 30, 3), np.uint8))])
    data = json.loads(ann.read_text())
    data["images"][0]["width"] = 31
    ann.write_text(json.dumps(data))
    with pytest.raises(WorkflowError, match=r"size 30x20 disagrees with the annotation's 31x20"):
        preprocess_shard(ann, img_dir, out_dir=tmp_path / "p", manifest_path=tmp_path / "m.json")


def test_odd_formats_are_preprocessed(tmp_path):
    """Grayscale, RGBA and 16-bit PNGs go through the stage as 3-channel RGB."""
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    rng = np.random.default_rng(1)
    cv2.imwrite(str(img_dir / "g.png"), rng.integers(0, 256, (30, 40), dtype=np.uint8))
    cv2.imwrite(str(img_dir / "a.png"), rng.integers(0, 256, (30, 40, 4), dtype=np.uint8))
    cv2.imwrite(str(img_dir / "w.png"), rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16))
    images = [{"id": i, "file_name": n, "width": 40, "height": 30}
              for i, n in enumerate(["g.png", "a.png", "w.png"], 1)]
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"images": images, "annotations": [],
                               "categories": [PERSON_CATEGORY]}))
    man = preprocess_shard(ann, img_dir, out_dir=tmp_path / "p", manifest_path=tmp_path / "m.json")
    for e in man.entries:
        assert np.load(tmp_path / "p" / f"{e.stem}.npy").shape == (1, 3, 512, 704)


BAD_JSON = [
    ("not json {", "not readable JSON"),
    ("[1, 2]", "top level is list"),
    ('{"annotations": [], "categories": []}', "missing the 'images' list"),
    ('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "car"}]}',
     "no 'person' category"),
    ('{"images": [], "annotations": [], "categories": '
     '[{"id": 1, "name": "person", "keypoints": ["a", "b"]}]}', "has 2 keypoints"),
]


@pytest.mark.parametrize("text,message", BAD_JSON)
def test_bad_annotation_json(tmp_path, text, message):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(WorkflowError, match=message) as exc:
        load_keypoint_annotations(p)
    assert "bad.json" in str(exc.value)


def test_bad_annotation_entries(tmp_path):
    base = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
            "annotations": [], "categories": [PERSON_CATEGORY]}
    p = tmp_path / "a.json"
    cases = [
        (dict(base, images=base["images"] * 2), "image id 1 appears twice"),
        (dict(base, images=[{"id": "1", "file_name": "a.jpg"}]), r"images\[0\] needs"),
        (dict(base, annotations=[{"image_id": 9, "category_id": 1}]), "image id 9"),
        (dict(base, annotations=[{"image_id": 1, "category_id": 1, "keypoints": [0] * 50}]),
         "50 keypoint values"),
    ]
    for data, message in cases:
        p.write_text(json.dumps(data))
        with pytest.raises(WorkflowError, match=message):
            load_keypoint_annotations(p)
    with pytest.raises(WorkflowError, match="file not found"):
        load_keypoint_annotations(tmp_path / "missing.json")


# ------------------------------------------------------------------ CLI

def test_cli_guide_flags_and_errors(tmp_path, root, coco_sample):
    script = str(root / "scripts" / "preprocess.py")
    ann = str(coco_sample / "person_keypoints_sample.json")
    imgs = str(coco_sample / "images")
    r = subprocess.run([sys.executable, script, "--annotations", ann, "--images", imgs,
                        "--output_flip", str(tmp_path / "f"), "--manifest", str(tmp_path / "m.json"),
                        "--shard", "3", "--num_shards", "4", "--shape_policy", "reference"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    man = Manifest.read(tmp_path / "m.json")
    assert (man.shard, man.num_shards, man.shape_policy) == (3, 4, "reference")
    assert sorted(p.stem for p in (tmp_path / "f").iterdir()) == sorted(e.stem for e in man.entries)
    assert "preprocess shard 3/4" in r.stderr
    r = subprocess.run([sys.executable, script, "--annotations", ann, "--images", imgs,
                        "--output-flip", str(tmp_path / "x"), "--manifest", str(tmp_path / "n.json"),
                        "--shard", "4", "--num-shards", "4", "--shape-policy", "ascend17"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "error: --shard must be in 0..3" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_wide_image_cropped_and_named_or_fitted_whole(tmp_path, root):
    """A 900x300 image with a red left and a blue right edge: ascend17 (the guide's port)
    cuts both edges off and names the image in the log and the manifest; ascend17_fit puts
    the whole image into the same compiled shape (both edges in the tensor, rows padded)."""
    wide = np.full((300, 900, 3), 128, np.uint8)
    wide[:, :20] = (255, 0, 0)
    wide[:, -20:] = (0, 0, 255)
    normal = np.full((480, 640, 3), 90, np.uint8)
    ann, img_dir = _write_dataset(tmp_path, [(7, wide), (8, normal)])
    script = str(root / "scripts" / "preprocess.py")
    seen = {}
    for policy in ("ascend17", "ascend17_fit"):
        out, man_path = tmp_path / policy, tmp_path / f"{policy}.json"
        r = subprocess.run([sys.executable, script, "--annotations", str(ann), "--images",
                            str(img_dir), "--output", str(out), "--manifest", str(man_path),
                            "--shape-policy", policy], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        man = Manifest.read(man_path)
        entry = man.entries[0]
        assert (entry.input_h, entry.input_w) == (512, 1024) and man.shape_policy == policy
        t = np.load(out / f"{entry.stem}.npy")[0]
        red = ((t[0] > 2.0) & (t[2] < -1.5)).any(axis=0)
        blue = ((t[2] > 2.0) & (t[0] < -1.5)).any(axis=0)
        seen[policy] = (man, r.stderr, red, blue, t)
    man, log, red, blue, _ = seen["ascend17"]
    assert man.cropped == ["000000000007.png"] and not red.any() and not blue.any()
    assert "1 image(s) cropped by shape policy ascend17" in log and "000000000007.png" in log
    man, log, red, blue, t = seen["ascend17_fit"]
    assert man.cropped == [] and "image(s) cropped" not in log
    cols = np.flatnonzero(red), np.flatnonzero(blue)
    assert cols[0].min() == 0 and cols[0].max() < 30 and cols[1].max() == 1023 and cols[1].min() > 990
    pad = (0.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    rows = np.abs(t - pad.astype(np.float32)[:, None, None]).max(axis=(0, 2)) < 1e-5
    assert rows[:80].all() and rows[-80:].all() and not rows[200:312].any()  # letterbox
    # the manifest's transform maps the red and blue edges back to the image's edges
    g = man.entries[0].geometry()
    persons = np.zeros((1, 2, 5), np.float32)
    persons[0, :, 0] = [cols[0].mean(), cols[1].mean()]
    persons[0, :, 1] = 256.0
    back = to_image(persons, g)[0]
    assert back[0, 0] < 20 and back[1, 0] > 880
    np.testing.assert_allclose(back[:, 1], 150.0, atol=1.0)
