"""Aggregation and grouping against the reference stages of crafted_640x427.npz, and the
fast path against the straight reference port (:mod:`higherhrnet.postprocess.reference`),
stage by stage, on crafted, synthetic and noise maps: identical results."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from support.postprocess import DenseHeatmaps, DenseMaps, random_persons

from higherhrnet.data.coco import FLIP_INDEX
from higherhrnet.postprocess import reference as ref
from higherhrnet.postprocess.aggregate import (Aggregated, emulation_is_exact, fma32, half_pass,
                                               upsample_at, upsample_dense)
from higherhrnet.postprocess.grouping import parse
from higherhrnet.postprocess.refine import RefineSearch, refine_people
from higherhrnet.postprocess.params import GroupingParams
from higherhrnet.postprocess.reference import match_by_tag

OUTPUTS = ("normal_output0", "normal_output1", "flipped_output0", "flipped_output1")


@pytest.fixture(scope="module")
def crafted(reference):
    return dict(np.load(reference / "postprocess" / "crafted_640x427.npz"))


@pytest.fixture(scope="module")
def dense(crafted):
    return ref.aggregate(*(crafted[k] for k in OUTPUTS))


@pytest.fixture(scope="module")
def parsed(crafted, dense):
    fast = parse(Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS)))
    return {"fast": fast, "reference": ref.parse(*dense)}


def _assert_same_parse(fast, ref):
    """Every stage identical (candidates, grouping, adjust, scores, refine)."""
    assert len(fast.candidates) == len(ref.candidates)
    for j, (a, b) in enumerate(zip(fast.candidates, ref.candidates)):
        np.testing.assert_array_equal(a, b, err_msg=f"candidates of joint {j}")
    for stage in ("matched", "adjusted", "scores", "refined"):
        np.testing.assert_array_equal(getattr(fast, stage), getattr(ref, stage), err_msg=stage)


def test_fast_equals_reference_on_crafted_stage_by_stage(parsed):
    _assert_same_parse(parsed["fast"], parsed["reference"])


def test_aggregated_maps_match_reference(crafted, dense):
    det, tags = dense
    assert det.shape == tuple(crafted["final_heatmaps_shape"][1:])
    assert tags.shape == tuple(crafted["tags_shape"][1:])
    flat = det.reshape(17, -1)
    np.testing.assert_allclose(flat.max(1), crafted["final_heatmaps_chan_max"], atol=1e-6)
    np.testing.assert_array_equal(flat.argmax(1), crafted["final_heatmaps_chan_argmax"])
    np.testing.assert_allclose(flat.sum(1, dtype=np.float64), crafted["final_heatmaps_chan_sum"],
                               rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(tags.reshape(17, -1, 2).sum(1, dtype=np.float64),
                               crafted["tags_chan_sum"], rtol=1e-6, atol=1e-3)
    fast = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS))
    np.testing.assert_array_equal(fast.det, det)


@pytest.mark.parametrize("flipped", [False, True])
def test_each_pass_is_bitwise_the_reference_order(crafted, flipped):
    """Resize, flip back, then permute (reference order) == our permute-resize-flip."""
    outs = [crafted[k] for k in OUTPUTS[2:] if flipped] or [crafted[k] for k in OUTPUTS[:2]]
    hm, tag = ref.one_pass(*outs, flipped)
    ours_hm, ours_tag = half_pass(*outs, flipped)
    np.testing.assert_array_equal(ours_hm.numpy(), hm[0].numpy())
    np.testing.assert_array_equal(ours_tag.numpy(), tag[0].numpy())


def test_pointwise_tags_equal_torch_resize(crafted, dense):
    """Tags evaluated at points (fast path) are bit-identical to torch's dense resize, at
    every pixel of every joint (borders included), and so is the dense per-joint fallback."""
    _, tags = dense
    fast = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS))
    fast.DENSE_AFTER = 10 ** 12  # point evaluation only
    everywhere = np.arange(tags.shape[1] * tags.shape[2])
    for j in range(17):
        np.testing.assert_array_equal(fast.tags_at(j, everywhere), tags[j].reshape(-1, 2))
    fast = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS))
    fast.DENSE_AFTER = 0  # whole-map evaluation
    for j in (0, 16):
        np.testing.assert_array_equal(fast.tags_at(j, everywhere), tags[j].reshape(-1, 2))


def test_pointwise_tags_equal_torch_on_synthetic_outputs(reference):
    """The synthetic-weight network outputs of a 512x512 input (mirrored for the flipped
    pass): point tags equal the dense reference tags on a large random sample of pixels plus
    the whole border."""
    f = np.load(reference / "forward" / "a_512x512.npz")
    o0, o1 = f["output0"], f["output1"]
    perm = list(FLIP_INDEX)
    outs = [o0, o1, np.ascontiguousarray(o0[:, perm + [17 + c for c in perm], :, ::-1]),
            np.ascontiguousarray(o1[:, perm, :, ::-1])]
    _, tags = ref.aggregate(*outs)
    fast = Aggregated.from_outputs(*outs)
    fast.DENSE_AFTER = 10 ** 12
    h, w = tags.shape[1:3]
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:h, :w]
    border = np.flatnonzero((yy < 2) | (yy >= h - 2) | (xx < 2) | (xx >= w - 2))
    for j in range(17):
        flat = np.concatenate([border, rng.integers(0, h * w, 20_000)])
        np.testing.assert_array_equal(fast.tags_at(j, flat), tags[j].reshape(-1, 2)[flat])


def test_upsample_at_equals_torch_bitwise_on_random_maps():
    """Wide magnitudes (products and sums at very different scales), every pixel.  Four
    maps: single-threaded torch resizes exactly 3 channels (an image's) with another kernel;
    the postprocess resizes 1, 2, 17 or 34."""
    rng = np.random.default_rng(1)
    src = (rng.normal(0, 3, (4, 57, 71)) * np.exp(rng.normal(0, 8, (4, 57, 71))))
    src = src.astype(np.float32)
    ref = F.interpolate(torch.from_numpy(src)[None], size=(114, 142), mode="bilinear",
                        align_corners=False)[0].numpy()
    c, y, x = np.meshgrid(np.arange(4), np.arange(114), np.arange(142), indexing="ij")
    np.testing.assert_array_equal(upsample_at(src, c, y, x), ref)
    for k in range(4):
        np.testing.assert_array_equal(upsample_dense(src[k]), ref[k])
    assert emulation_is_exact()  # so Aggregated uses point evaluation, not its torch fallback


def _fma_exact(a, w, p) -> np.float32:
    """Correctly rounded float32 of the exact ``a * w + p`` (fractions; ties to even)."""
    exact = Fraction(float(a)) * Fraction(float(w)) + Fraction(float(p))
    guess = np.float32(float(exact))
    near = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    err = [abs(Fraction(float(c)) - exact) for c in near]
    best = min(err)
    ties = [c for c, e in zip(near, err) if e == best]
    return min(ties, key=lambda c: int(np.array(c).view(np.int32)) & 1)


def test_fma32_is_a_correctly_rounded_fma():
    """Random operands, and midpoint cases where float64 evaluation rounds twice wrongly:
    ``(1 + 2^-23) * 0.75`` is a float32 midpoint, a tiny negative addend must round down."""
    a = np.float32(1 + 2 ** -23)
    assert fma32(np.array([a]), np.array([np.float32(0.75)]),
                 np.array([np.float32(-2.0 ** -80)]))[0] == np.float32(0.75 + 2 ** -24)
    assert np.float32(float(a) * 0.75 - 2.0 ** -80) != np.float32(0.75 + 2 ** -24)  # naive
    rng = np.random.default_rng(2)
    n = 3000
    a = (rng.normal(size=n) * np.exp(rng.normal(0, 10, n))).astype(np.float32)
    w = rng.choice(np.float32([0.25, 0.75, 1.0, 0.0, 0.3, 1.7]), n)
    p = (rng.normal(size=n) * np.exp(rng.normal(0, 10, n))).astype(np.float32)
    mid = np.float32(1 + 2 ** -23) * (2.0 ** rng.integers(-20, 20, n // 3)).astype(np.float32)
    a[: n // 3], w[: n // 3] = mid, np.float32(0.75)  # midpoints with addends of any scale
    got = fma32(a, w, p)
    want = np.array([_fma_exact(*t) for t in zip(a, w, p)], dtype=np.float32)
    np.testing.assert_array_equal(got, want)


def test_tag_block_bounds_contain_every_tag(crafted, dense):
    fast = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS))
    _, tags = dense
    for j in (0, 15):
        lo, hi = fast.tag_block_bounds(j, 8)
        blocks = tags[j].reshape(64, 8, 96, 8, 2)
        assert (lo <= blocks.min(axis=(1, 3)) + 1e-6).all()
        assert (hi >= blocks.max(axis=(1, 3)) - 1e-6).all()


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_topk_above_threshold_matches_reference(crafted, parsed, path):
    val, loc, tag = crafted["topk_val"][0], crafted["topk_loc"][0], crafted["topk_tag"][0]
    for j, rows in enumerate(parsed[path].candidates):
        keep = val[j] > 0.1
        assert rows.shape[0] == keep.sum(), f"joint {j}"
        np.testing.assert_allclose(rows[:, 2], val[j][keep], atol=1e-6)
        np.testing.assert_array_equal(rows[:, :2], loc[j][keep])
        np.testing.assert_allclose(rows[:, 3:], tag[j][keep], atol=1e-5)


@pytest.mark.parametrize("path", ["fast", "reference"])
@pytest.mark.parametrize("stage", ["matched", "adjusted", "scores", "refined"])
def test_stages_match_reference(crafted, parsed, path, stage):
    got = getattr(parsed[path], stage)
    assert got.shape == crafted[stage].shape
    np.testing.assert_allclose(got, crafted[stage], atol=1e-4)


def test_refine_recovers_the_faint_joint(crafted, parsed):
    adjusted, refined = parsed["fast"].adjusted, parsed["fast"].refined
    filled = (adjusted[:, :, 2] == 0) & (refined[:, :, 2] > 0)
    assert filled[:3].sum() == 1  # person 2's left ankle (amplitude 0.07 < 0.1)
    np.testing.assert_array_equal(parsed["fast"].scores, parsed["reference"].scores)


def _noise_maps(seed, h=64, w=96, people=40):
    rng = np.random.default_rng(seed)
    det = rng.normal(0, 0.4, (17, h, w)).astype(np.float32)
    tags = rng.normal(0, 2.0, (17, h, w, 2)).astype(np.float32)
    tags[:, h // 3: h // 2, :, :] = 0.25  # plateaus of equal tags: ties in the score map
    det[:, :4, :4] = 1.5  # ties in the heatmap
    return det, tags, random_persons(rng, h, w, people, 0.3)


@pytest.mark.parametrize("seed,h,w", [(0, 64, 96), (1, 64, 96), (2, 61, 90)])
def test_fast_refine_equals_reference_on_noise(seed, h, w):
    det, tags, persons = _noise_maps(seed, h, w)
    search = RefineSearch(DenseMaps(det, tags))
    assert search._blocked == (h % 8 == 0 and w % 8 == 0)
    for p in persons:
        fast = refine_people(search, p[None].copy())[0]
        np.testing.assert_array_equal(fast, ref.refine(det, tags, p.copy()))


@pytest.mark.parametrize("chunk", [64, 1 << 21])
def test_batched_refine_equals_reference(monkeypatch, chunk):
    """All people at once, also with tiny chunks (the streaming path)."""
    monkeypatch.setattr(RefineSearch, "CHUNK", chunk)
    det, tags, persons = _noise_maps(7)
    fast = refine_people(RefineSearch(DenseMaps(det, tags)), persons.copy())
    brute = np.array([ref.refine(det, tags, p.copy()) for p in persons])
    np.testing.assert_array_equal(fast, brute)


@pytest.mark.parametrize("first_blocks,few", [(1, 0), (16, 0), (16, 10 ** 6)])
def test_argmax_pairs_mixed_joints_equal_numpy_argmax(monkeypatch, first_blocks, few):
    """Pairs of different joints searched at once: each is the row-major-first argmax of
    ``det[j] - round(||tag[j] - prev||)`` (ties from the plateaus included), with and
    without the second bar-raising step."""
    monkeypatch.setattr(RefineSearch, "FIRST_BLOCKS", first_blocks)
    monkeypatch.setattr(RefineSearch, "FEW_BLOCKS", few)
    det, tags, _ = _noise_maps(11)
    rng = np.random.default_rng(11)
    js = rng.integers(0, 17, 60)
    prevs = rng.normal(0, 2.0, (60, 2)).astype(np.float32)
    prevs[:10] = 0.25
    got = RefineSearch(DenseMaps(det, tags)).argmax_pairs(js, prevs)
    for j, prev, idx in zip(js, prevs, got):
        tt = ((tags[j] - prev[None, None, :]) ** 2).sum(axis=2) ** 0.5
        assert idx == np.argmax(det[j] - np.round(tt))


def test_full_parse_fast_equals_reference_on_noise_outputs():
    """Noise network outputs (hundreds of candidate people): identical stages, from the maps
    and from the raw outputs (the reference's own aggregation)."""
    rng = np.random.default_rng(5)
    outs = [rng.normal(0, 1, (1, 34, 16, 24)).astype(np.float32),
            rng.normal(0, 1, (1, 17, 32, 48)).astype(np.float32),
            rng.normal(0, 1, (1, 34, 16, 24)).astype(np.float32),
            rng.normal(0, 1, (1, 17, 32, 48)).astype(np.float32)]
    agg = Aggregated.from_outputs(*outs)
    everywhere = np.arange(64 * 96)
    tags = np.stack([agg.tags_at(j, everywhere).reshape(64, 96, 2) for j in range(17)])
    fast = parse(agg)
    assert fast.refined.shape[0] > 30
    _assert_same_parse(fast, ref.parse(agg.det, tags))
    _assert_same_parse(fast, ref.parse_outputs(outs, GroupingParams()))


def _rows(*rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def _candidates(**by_joint):
    cands = [np.zeros((0, 5))] * 17
    for j, rows in by_joint.items():
        cands[int(j[1:])] = rows
    return cands


def test_equal_first_tags_overwrite_one_person():
    cands = _candidates(j0=_rows([10, 10, 0.9, 1.0, 5.0], [50, 50, 0.8, 1.0, -5.0]))
    out = match_by_tag(cands, GroupingParams())
    assert out.shape == (1, 17, 5)
    np.testing.assert_allclose(out[0, 0], [50, 50, 0.8, 1.0, -5.0], rtol=1e-7)


def test_threshold_is_strict_and_tag_threshold_applies():
    # rows are float64 as in the reference: 0.1 is not above 0.1, float32(0.1) = 0.1000000015 is
    cands = _candidates(j0=_rows([10, 10, 0.5, 1.0, 1.0], [20, 20, np.float32(0.1), 9.0, 9.0],
                                 [30, 30, 0.1, -7.0, -7.0]),
                        j1=_rows([11, 11, 0.5, 1.4, 1.4], [40, 40, 0.5, 4.0, 4.0]))
    out = match_by_tag(cands, GroupingParams())
    assert out.shape[0] == 3 and out[1, 0, 3] == 9.0
    assert out[0, 1, 2] == 0.5 and out[0, 1, 0] == 11  # dist 0.57 < 1: joins person 1.0
    assert out[2, 1, 0] == 40  # far tag: a new person keyed 4.0


def test_person_cap_limits_matching():
    noses = _rows(*[[i, 0, 0.9, 10.0 * i, 0.0] for i in range(35)])
    eye = _rows([1, 1, 0.9, 340.3, 0.0])  # closest to person 34, beyond the first 30
    out = match_by_tag(_candidates(j0=noses, j1=eye), GroupingParams(max_people=30))
    assert out.shape[0] == 36  # the eye starts a new person
    out = match_by_tag(_candidates(j0=noses, j1=eye), GroupingParams(max_people=35))
    assert out.shape[0] == 35 and out[34, 1, 2] > 0


def test_parameters_change_the_result(crafted):
    agg = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS))
    base = parse(agg).refined
    assert parse(agg, GroupingParams(refine=False)).refined.shape == base.shape
    assert not np.array_equal(parse(agg, GroupingParams(refine=False)).refined, base)
    assert not np.array_equal(parse(agg, GroupingParams(adjust=False)).refined, base)
    assert parse(agg, GroupingParams(detection_threshold=0.6)).refined.shape[0] < 4
    assert parse(agg, GroupingParams(max_people=2)).refined.shape[0] <= 4


def test_nms_window_follows_kernel():
    det = np.zeros((17, 16, 16), np.float32)
    det[0, 8, 5], det[0, 8, 7] = 0.9, 0.8  # two peaks 2 px apart
    det[0, 2, 2] = det[0, 2, 3] = 0.5  # a tied plateau: both kept, as torch's eq(maxpool)
    maps = DenseMaps(det, np.zeros((17, 16, 16, 2), np.float32))
    from higherhrnet.postprocess.grouping import top_candidates

    tags = maps.tags
    for kernel, pad, xs in ((5, 2, [5, 2, 3]), (3, 1, [5, 7, 2, 3])):
        params = GroupingParams(nms_kernel=kernel, nms_padding=pad)
        fast = top_candidates(maps.heatmaps, maps.tags_at, params)
        slow = ref.top_k(det, tags, params)
        assert fast[0][:, 0].tolist() == xs
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, b)
    assert fast[0][:2, :3].tolist() == [[5, 8, pytest.approx(0.9)], [7, 8, pytest.approx(0.8)]]


@pytest.mark.parametrize("kwargs", [dict(nms_kernel=5, nms_padding=1), dict(max_people=0),
                                    dict(detection_threshold=-0.1)])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        GroupingParams(**kwargs)


def test_no_people_gives_empty_arrays():
    zeros = [np.zeros((1, 34, 16, 16), np.float32), np.zeros((1, 17, 32, 32), np.float32)] * 2
    res = parse(Aggregated.from_outputs(*zeros))
    assert res.refined.shape == (0, 17, 5) and res.scores.shape == (0,)


# ----------------------------------------------------------------------------- assignment

# tie-heavy costs where scipy and the reference's munkres 1.1.4 choose different optima;
# the expected pairs are what munkres 1.1.4 returned
MUNKRES_CASES = [
    ([[99.46, 99.46, 99.46, 99.46], [-0.87, -0.87, 99.13, 99.13], [-0.3, 99.7, -0.3, 99.7],
      [-0.38, -0.38, -0.38, 99.62]], [(0, 3), (1, 0), (2, 2), (3, 1)]),
    ([[99.82, -0.18, -0.18, -0.18], [-0.61, -0.61, -0.61, 99.39], [-0.97, -0.97, 99.03, 99.03]],
     [(0, 3), (1, 0), (2, 1)]),
    ([[-0.8, 99.2, 99.2], [-0.5, 99.5, 99.5], [99.39, 99.39, 99.39]], [(0, 0), (1, 2), (2, 1)]),
    ([[-0.46, -0.46, 1e10, 1e10, 1e10], [99.94, -0.06, 1e10, 1e10, 1e10],
      [-1.0, -1.0, 1e10, 1e10, 1e10], [-0.89, 99.11, 1e10, 1e10, 1e10],
      [-0.92, 99.08, 1e10, 1e10, 1e10]], [(0, 2), (1, 3), (2, 1), (3, 4), (4, 0)]),
]


@pytest.mark.parametrize("cost,expected", MUNKRES_CASES)
def test_munkres_tie_breaking_is_the_reference_solvers(cost, expected):
    from higherhrnet.postprocess.assignment import munkres_assignment, scipy_assignment

    rows, cols = munkres_assignment(np.array(cost))
    assert list(zip(rows.tolist(), cols.tolist())) == expected
    r2, c2 = scipy_assignment(np.array(cost))
    assert np.array(cost)[r2, c2].sum() == pytest.approx(np.array(cost)[rows, cols].sum())


def test_munkres_is_optimal_on_random_matrices():
    from higherhrnet.postprocess.assignment import munkres_assignment, scipy_assignment

    rng = np.random.default_rng(3)
    for _ in range(200):
        cost = np.round(rng.random((rng.integers(1, 9), rng.integers(1, 9))) * 3) * 100 \
            - rng.random((1, 1))
        rows, cols = munkres_assignment(cost)
        r2, c2 = scipy_assignment(cost)
        assert len(rows) == min(cost.shape) and len(set(cols.tolist())) == len(cols)
        assert cost[rows, cols].sum() == pytest.approx(cost[r2, c2].sum())


def test_munkres_matches_the_package_when_installed():
    munkres = pytest.importorskip("munkres")
    from higherhrnet.postprocess.assignment import munkres_assignment

    rng = np.random.default_rng(4)
    for _ in range(300):
        r, c = rng.integers(1, 10, 2)
        cost = rng.integers(0, 3, (r, c)).astype(float) * 100 - rng.random((r, 1))
        if r > c:
            cost = np.concatenate([cost, np.full((r, r - c), 1e10)], axis=1)
        expected = [tuple(map(int, p)) for p in munkres.Munkres().compute(cost.copy())]
        rows, cols = munkres_assignment(cost)
        assert list(zip(rows.tolist(), cols.tolist())) == expected


def test_batched_adjust_equals_per_joint_rule():
    """adjust handles all detected joints in one batch: each equals the reference's +-0.25
    rule applied joint by joint (integer-valued maps give ties; points on every border)."""
    from higherhrnet.postprocess.grouping import adjust
    rng = np.random.default_rng(3)
    det = rng.integers(0, 3, (17, 20, 30)).astype(np.float32)
    persons = np.zeros((6, 17, 5), dtype=np.float32)
    persons[:, :, 0] = rng.integers(0, 30, (6, 17))
    persons[:, :, 1] = rng.integers(0, 20, (6, 17))
    persons[:, :, 2] = rng.integers(0, 2, (6, 17)) * rng.uniform(0.2, 1, (6, 17))
    persons[0, :4, :2] = [[0, 0], [29, 19], [0, 19], [29, 0]]
    expected = ref.adjust(persons.copy(), det)
    got = adjust(persons.copy(), DenseHeatmaps(det))
    np.testing.assert_array_equal(got, expected)
