import json

import numpy as np
import pytest

from higherhrnet.postprocess.coco_results import to_image
from higherhrnet.preprocess.shapes import ASCEND_SHAPES, align, crops, input_geometry, shape_set
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


# ------------------------------------------------------------------ whole images (issue 27)

# wider or taller than 2:1 (ascend17 crops them), odd sides included
WIDE = [(2000, 100), (100, 2000), (1920, 640), (640, 1920), (1280, 425), (425, 1280),
        (2560, 1080), (801, 399), (3001, 999), (999, 3001), (640, 300), (800, 300)]
# (input size, scale, smallest scale) of the one-scale and the multi-scale tests
TESTS = [(512, 1.0, 1.0), (512, 2.0, 0.5), (512, 1.0, 0.5), (512, 0.5, 0.5), (640, 1.0, 1.0)]


def _corners_in_input(g):
    """The image's corner pixel centres in input coordinates (x0, y0, x1, y1)."""
    m = reference_affine(g)
    corners = np.array([[0.0, 0.0], [g.width - 1.0, g.height - 1.0]])
    (x0, y0), (x1, y1) = corners @ m[:, :2].T + m[:, 2]
    return x0, y0, x1, y1


def _on_canvas(g):
    """Every pixel of the image lands on the input canvas, give or take one image pixel (the
    reference's own rounding of the centre and of the aligned size)."""
    x0, y0, x1, y1 = _corners_in_input(g)
    tol = max(1.0, g.k)
    return -tol <= min(x0, y0) and x1 <= g.input_w - 1 + tol and y1 <= g.input_h - 1 + tol


@pytest.mark.parametrize("size,scale,min_scale", TESTS)
@pytest.mark.parametrize("w,h", WIDE)
def test_fit_policy_puts_the_whole_image_into_a_compiled_shape(w, h, size, scale, min_scale):
    g = input_geometry(w, h, "ascend17_fit", size, scale, min_scale)
    scales = sorted({scale, min_scale, 1.0})
    assert (g.input_h, g.input_w) in shape_set(size, scales)
    x0, y0, x1, y1 = _corners_in_input(g)
    assert _on_canvas(g), (x0, y0, x1, y1)
    # and the long side fills it: the letterbox pads the short side only
    assert max((x1 - x0) / g.input_w, (y1 - y0) / g.input_h) > 0.99
    assert not crops(w, h, "ascend17_fit", size, min_scale)
    # the same image under the guide's policy loses its ends, and says so
    c = input_geometry(w, h, "ascend17", size, scale, min_scale)
    assert (c.input_w, c.input_h) == (g.input_w, g.input_h)
    assert not _on_canvas(c)
    assert crops(w, h, "ascend17", size, min_scale)


@pytest.mark.parametrize("w,h", WIDE)
def test_fit_policy_maps_back_exactly(w, h):
    g = input_geometry(w, h, "ascend17_fit")
    m = reference_affine(g)
    k = g.input_w / (g.scale[0] * 200.0)  # the similarity factor, smaller than 512 / short
    assert k < 512 / min(w, h) and g.k == pytest.approx(k)
    np.testing.assert_allclose(m[:, :2], [[k, 0], [0, k]], atol=1e-9)
    pts = np.array([[0.0, 0.0], [w - 1.0, h - 1.0], [w / 3.0, h / 5.0], [w - 1.0, 0.0]])
    persons = np.zeros((1, 4, 5), np.float32)
    persons[0, :, :2] = pts @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(to_image(persons, g)[0, :, :2], pts, atol=2e-3)


def test_fit_policy_is_ascend17_wherever_ascend17_sees_the_whole_image(reference):
    rows = json.loads((reference / "preprocess" / "multi_scale_sizes.json").read_text())["rows"]
    sizes = [(r["image_w"], r["image_h"]) for r in rows]
    sizes += [(w, h) for w in range(64, 1400, 29) for h in (300, 427, 480, 512, 640)]
    sizes += [(h, w) for w, h in sizes]
    kept = 0
    for w, h in sizes:
        for size, scale, min_scale in TESTS:
            a = input_geometry(w, h, "ascend17", size, scale, min_scale)
            if crops(w, h, "ascend17", size, min_scale):
                continue
            kept += 1
            assert input_geometry(w, h, "ascend17_fit", size, scale, min_scale) == a, (w, h)
            assert _on_canvas(a), (w, h, size, scale, min_scale)
    assert kept > len(sizes)


@pytest.mark.parametrize("w,h", WIDE)
def test_reference_policy_sees_the_whole_image(w, h):
    assert _on_canvas(input_geometry(w, h, "reference"))
    assert not crops(w, h, "reference")


def test_crops_is_what_the_guides_port_clamps(reference):
    """ascend17 crops exactly the images whose reference size it changes (the fixture's rows)."""
    rows = json.loads((reference / "preprocess" / "multi_scale_sizes.json").read_text())["rows"]
    changed = [(r["ascend_input_w"], r["ascend_input_h"]) != (r["ref_input_w"], r["ref_input_h"])
               for r in rows]
    assert any(changed) and not all(changed)
    assert [crops(r["image_w"], r["image_h"], "ascend17") for r in rows] == changed


@pytest.mark.parametrize("w,h", WIDE)
def test_fit_policy_in_the_multiscale_test_maps_onto_the_base_size(w, h):
    """The multi-scale postprocess maps back with the smallest scale's centre and scale onto
    the scale-1 size: for a fitted image that is the whole image too."""
    from higherhrnet.postprocess.multiscale import final_geometry
    from higherhrnet.preprocess.manifest import ManifestEntry

    base = input_geometry(w, h, "ascend17_fit", 512, 1.0, 0.5)
    small = input_geometry(w, h, "ascend17_fit", 512, 0.5, 0.5)
    final = final_geometry(ManifestEntry.from_geometry(1, "x.jpg", small), base)
    assert (final.input_w, final.input_h) == (base.input_w, base.input_h)
    assert _on_canvas(final) and final.k == pytest.approx(base.k)
