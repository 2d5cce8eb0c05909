"""The offline synthetic dataset: deterministic, valid COCO keypoints, varied shapes."""

import hashlib
import subprocess
import sys

import numpy as np
from pycocotools.coco import COCO

from higherhrnet.data.coco import image_records, load_keypoint_annotations
from higherhrnet.data.images import read_image_rgb
from higherhrnet.preprocess.shapes import ASCEND_SHAPES, input_geometry
from higherhrnet.data.synthetic import generate


def _digest(folder):
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_deterministic_and_seed_dependent(tmp_path):
    a = generate(tmp_path / "a", tmp_path / "a.json", num_images=6, seed=3)
    b = generate(tmp_path / "b", tmp_path / "b.json", num_images=6, seed=3)
    assert a == b and _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    c = generate(tmp_path / "c", tmp_path / "c.json", num_images=6, seed=4)
    assert [im["id"] for im in c["images"]] != [im["id"] for im in a["images"]]


def test_valid_coco_with_varied_shapes(tmp_path):
    generate(tmp_path / "img", tmp_path / "ann.json", num_images=15, seed=0)
    coco = load_keypoint_annotations(tmp_path / "ann.json")
    records = image_records(coco)
    assert len(records) == 15 and len({r.id for r in records}) == 15
    shapes = set()
    for r in records:
        assert isinstance(r.id, int) and r.file_name == f"{r.id:012d}.jpg"
        img = read_image_rgb(tmp_path / "img" / r.file_name)  # a complete JPEG
        assert img.shape == (r.height, r.width, 3)
        g = input_geometry(r.width, r.height, "ascend17")
        shapes.add((g.input_h, g.input_w))
    assert shapes <= set(ASCEND_SHAPES) and len(shapes) >= 8
    assert (512, 512) in shapes and (512, 1024) in shapes and (1024, 512) in shapes
    assert any(h > w for h, w in shapes) and any(w > h for h, w in shapes)

    api = COCO(str(tmp_path / "ann.json"))
    per_image = [len(api.getAnnIds(imgIds=[r.id])) for r in records]
    assert per_image.count(0) == 3 and max(per_image) >= 2
    for ann in api.loadAnns(api.getAnnIds()):
        kps = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
        im = api.imgs[ann["image_id"]]
        vis = kps[:, 2] > 0
        assert ann["num_keypoints"] == vis.sum() > 0
        assert (kps[vis, 0] <= im["width"] - 1).all() and (kps[vis, 1] <= im["height"] - 1).all()
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and ann["area"] > 0 and ann["iscrowd"] == 0


def test_figures_are_drawn_at_the_keypoints(tmp_path):
    """Torso centre and limb midpoints of a lone figure all show the figure's one colour."""
    coco = generate(tmp_path / "img", tmp_path / "ann.json", num_images=8, seed=1)
    counts = {}
    for a in coco["annotations"]:
        counts[a["image_id"]] = counts.get(a["image_id"], 0) + 1
    ann = next(a for a in coco["annotations"] if counts[a["image_id"]] == 1)
    im = next(i for i in coco["images"] if i["id"] == ann["image_id"])
    img = read_image_rgb(tmp_path / "img" / im["file_name"]).astype(int)
    kps = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
    pairs = [(5, 11), (6, 12), (13, 15), (14, 16), (11, 13), (12, 14)]
    pts = [(kps[a, :2] + kps[b, :2]) / 2 for a, b in pairs if kps[a, 2] and kps[b, 2]]
    assert len(pts) >= 3
    colours = np.array([img[int(round(y)), int(round(x))] for x, y in pts])
    assert np.abs(colours - colours[0]).max() < 30, colours


def test_cli(tmp_path, root):
    r = subprocess.run([sys.executable, str(root / "scripts" / "make_synthetic_dataset.py"),
                        "--images", str(tmp_path / "i"), "--annotations", str(tmp_path / "a.json"),
                        "--num_images", "3", "--seed", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "i").glob("*.jpg"))) == 3
