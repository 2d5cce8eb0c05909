import json

import numpy as np
import pytest

from higherhrnet.postprocess.coco_results import to_image
from higherhrnet.preprocess.shapes import ASCEND_SHAPES, align, input_geometry
from higherhrnet.preprocess.transforms import reference_affine


def test_align_quirk():
    assert align(767.4) == 768  # 640x427
    assert align(769.2) == 832  # 640x426
    assert align(682.67) == 704  # 640x480
    assert align(640.5) == 640  # fraction just above a multiple rounds down


def test_seventeen_shapes():
    assert len(ASCEND_SHAPES) == 17 and len(set(ASCEND_SHAPES)) == 17
    assert ASCEND_SHAPES[0] == (1024, 512) and ASCEND_SHAPES[-1] == (512, 1024)


@pytest.mark.parametrize("policy,prefix", [("reference", "ref"), ("ascend17", "ascend")])
def test_size_rule_matches_reference(reference, policy, prefix):
    rows = json.loads((reference / "preprocess" / "multi_scale_sizes.json").read_text())["rows"]
    assert len(rows) == 28
    for r in rows:
        g = input_geometry(r["image_w"], r["image_h"], policy)
        assert (g.input_w, g.input_h) == (r[f"{prefix}_input_w"], r[f"{prefix}_input_h"]), r
        assert list(g.center) == r["center"]
        np.testing.assert_allclose(g.scale, r[f"{prefix}_scale"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(reference_affine(g), r[f"{prefix}_affine"], rtol=0, atol=1e-9)
        if policy == "ascend17":
            assert (g.input_h, g.input_w) in ASCEND_SHAPES


def test_inverse_transform_round_trip():
    g = input_geometry(640, 300, "ascend17")  # long side clamped to 1024
    assert (g.input_w, g.input_h) == (1024, 512)
    pts = np.array([[0.0, 0.0], [639.0, 299.0], [123.4, 56.7]])
    m = reference_affine(g)
    k = 512 / 300  # the closed form: a similarity around the centre
    np.testing.assert_allclose(m, [[k, 0, 512 - k * 320], [0, k, 256 - k * 150]], atol=1e-9)
    persons = np.zeros((1, 3, 5), np.float32)
    persons[0, :, :2] = pts @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(to_image(persons, g)[0, :, :2], pts, atol=1e-3)  # float32


def test_bad_policy():
    with pytest.raises(ValueError, match="shape policy"):
        input_geometry(640, 480, "nope")
