"""Inputs for the postprocess tests and ``bench/bench_postprocess.py``.

* :class:`DenseHeatmaps`, :class:`DenseMaps`: the fast grouping's map interface
  (:mod:`higherhrnet.postprocess.maps`) over dense arrays, for crafted or noise maps given as
  whole ``det``/``tags`` (the implementations live in the library: the multi-scale
  postprocess uses them);
* :func:`oracle_outputs`, :func:`sample_oracle_cases`: what an ideal network gives for the
  real COCO sample images (peaks exactly at the labels, zero background);
* :func:`realistic_cases`: network-like outputs of the same images, made by the generator of
  ``../shared/reference/realistic/``, whose README holds the reference's results on them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from higherhrnet.data.coco import FLIP_INDEX
from higherhrnet.postprocess.maps import DenseHeatmaps, DenseMaps
from higherhrnet.preprocess.manifest import Manifest, ManifestEntry
from higherhrnet.preprocess.shapes import input_geometry
from higherhrnet.preprocess.transforms import reference_affine

__all__ = ["DenseHeatmaps", "DenseMaps", "oracle_outputs", "sample_oracle_cases",
           "realistic_cases", "load_case", "random_persons"]


def _gaussian(shape, cx, cy, sigma):
    ys, xs = np.mgrid[0: shape[0], 0: shape[1]]
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def oracle_outputs(geom, people):
    """What an ideal network gives for the normal and the width-flipped input.

    people: list of (17, 3) image-space keypoints (x, y, visibility).  Output pixel u of a
    map at 1/s resolution sits at input coordinate s*u + (s-1)/2 (align_corners=False).
    """
    h4, w4, h2, w2 = geom.input_h // 4, geom.input_w // 4, geom.input_h // 2, geom.input_w // 2
    out0 = np.zeros((34, h4, w4), np.float32)
    out1 = np.zeros((17, h2, w2), np.float32)
    tags = np.zeros((17, h4, w4), np.float32)
    a = reference_affine(geom)
    for p, kpts in enumerate(people):
        tag = 2.0 * (p + 1)
        for j, (x, y, v) in enumerate(kpts):
            if v <= 0:
                continue
            xi, yi = a[0, 0] * x + a[0, 2], a[1, 1] * y + a[1, 2]
            if not (0 <= xi < geom.input_w and 0 <= yi < geom.input_h):
                continue
            out0[j] = np.maximum(out0[j], _gaussian((h4, w4), (xi - 1.5) / 4, (yi - 1.5) / 4, 1.5))
            out1[j] = np.maximum(out1[j], _gaussian((h2, w2), (xi - 0.5) / 2, (yi - 0.5) / 2, 3.0))
            near = _gaussian((h4, w4), (xi - 1.5) / 4, (yi - 1.5) / 4, 1.5) > 0.05
            tags[j][near] = tag
    out0[17:] = tags
    flip0 = out0[:, :, ::-1][list(FLIP_INDEX) + [17 + c for c in FLIP_INDEX]] + 0.0
    flip0[17:] += 0.1
    flip1 = out1[:, :, ::-1][list(FLIP_INDEX)]
    return [a_[None].copy() for a_ in (out0, out1, flip0, flip1)]


def sample_oracle_cases(coco_sample: Path, policy: str = "ascend17"):
    """``[(ManifestEntry, [n0, n1, f0, f1])]``: the oracle outputs of every sample image."""
    ann = json.loads((Path(coco_sample) / "person_keypoints_sample.json").read_text())
    cases = []
    for img in ann["images"]:
        geom = input_geometry(img["width"], img["height"], policy)
        people = [np.array(a["keypoints"], np.float64).reshape(17, 3) for a in ann["annotations"]
                  if a["image_id"] == img["id"] and not a["iscrowd"] and a["num_keypoints"] > 0]
        entry = ManifestEntry.from_geometry(img["id"], img["file_name"], geom)
        cases.append((entry, oracle_outputs(geom, people)))
    return cases


def realistic_cases(shared: Path, out: Path, keypoints: str = "coco"):
    """``(manifest path, dump, dump_flip, [(ManifestEntry, [n0, n1, f0, f1])])``: the
    network-like outputs of the 8 sample images, generated into ``out`` (once; about 3 s and
    160 MB) and checked against the generator's sha256 list. ``keypoints="crowdpose"``: the
    14-joint ones of ../shared/reference/crowdpose/README.md (CrowdPose labels, seed 14)."""
    ref = Path(shared) / "reference" / "realistic"
    sample = Path(shared) / "data" / "coco_sample"
    if keypoints == "coco":
        labels, seed, extra, checks = sample / "person_keypoints_sample.json", 1, [], ref
    else:
        from higherhrnet.data.keypoints import keypoint_set

        kps, folder = keypoint_set(keypoints), Path(shared) / "reference" / keypoints
        labels, seed, checks = folder / f"{keypoints}_sample.json", 14, folder / "realistic"
        extra = ["--num-joints", str(kps.num_joints),
                 "--flip-index", ",".join(map(str, kps.flip_index))]
    out = Path(out)
    manifest = out / "manifest.json"
    if not manifest.is_file():
        proc = subprocess.run(
            [sys.executable, str(ref / "make_realistic.py"),
             "--annotations", str(labels), "--images", str(sample / "images"),
             "--out", str(out), "--seed", str(seed), *extra,
             "--check", str(checks / "checksums.tsv")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"make_realistic.py failed:\n{proc.stdout}\n{proc.stderr}")
    entries = Manifest.read(manifest).entries
    cases = [(e, load_case(out / "dump", out / "dump_flip", e.stem)) for e in entries]
    return manifest, out / "dump", out / "dump_flip", cases


def load_case(dump: Path, dump_flip: Path, stem: str):
    """``[n0, n1, f0, f1]`` of one image from the ais_bench layout."""
    return [np.load(Path(d) / f"{stem}_{k}.npy") for d in (dump, dump_flip) for k in (0, 1)]


def random_persons(rng, h: int, w: int, n: int, share: float) -> np.ndarray:
    """``n`` grouped people ``[n, 17, 5]`` (float32) for refine tests: each joint detected
    with chance ``share`` at a random pixel of an ``h`` x ``w`` map (adjusted quarter
    positions), with a value in [0.1, 1.1); the others 0, for refine to fill."""
    persons = np.zeros((n, 17, 5), np.float32)
    for p in persons:
        on = rng.random(17) < share
        p[on, 0] = rng.integers(0, w, on.sum()) + 0.25
        p[on, 1] = rng.integers(0, h, on.sum()) + 0.75
        p[on, 2] = rng.random(on.sum()) + 0.1
    return persons
