"""Refine by bounds (:mod:`higherhrnet.postprocess.refine`): the bounds hold, and the search
gives the reference's index on maps shaped like a trained network's (smooth tag fields,
low background, plateaus and ties), through tiles, whole joint maps and dense arrays."""

from __future__ import annotations

import numpy as np
import pytest

from support.postprocess import DenseMaps, random_persons

from higherhrnet.postprocess import reference as ref
from higherhrnet.postprocess.aggregate import Aggregated
from higherhrnet.postprocess.refine import RefineSearch, _disc, refine_people


def test_disc_holds_every_box():
    rng = np.random.default_rng(0)
    scale = np.exp(rng.normal(0, 4, (1, 5000)))
    lo = (rng.normal(0, 1, (2, 5000)) * scale).astype(np.float32)
    hi = lo + (rng.random((2, 5000)) * scale).astype(np.float32)
    centre, radius = _disc(lo, hi, RefineSearch.MARGIN)
    for x, y in ((lo[0], lo[1]), (lo[0], hi[1]), (hi[0], lo[1]), (hi[0], hi[1])):
        d = np.hypot(x.astype(np.float64) - centre[0], y.astype(np.float64) - centre[1])
        assert (d <= radius.astype(np.float64)).all()


def _smooth(rng, shape, terms=4, wavelength=(6, 40)):
    """A smooth field in about [-1, 1]: a few plane waves (as the realistic generator)."""
    h, w = shape[-2:]
    ys, xs = np.mgrid[:h, :w]
    out = np.zeros((h, w))
    for _ in range(terms):
        k = 2 * np.pi / rng.uniform(*wavelength)
        a = rng.uniform(0, 2 * np.pi)
        out += np.cos(k * (np.cos(a) * xs + np.sin(a) * ys) + rng.uniform(0, 2 * np.pi))
    return out / terms


def _network_like(seed, h4=32, w4=48, people=6):
    """Raw outputs of both passes: low smooth heatmap background with a few peaks, tag
    fields that are smooth everywhere, per-person tags around their peaks."""
    rng = np.random.default_rng(seed)
    outs = []
    for _ in range(2):
        o0 = np.zeros((1, 34, h4, w4), np.float32)
        o1 = np.zeros((1, 17, 2 * h4, 2 * w4), np.float32)
        for j in range(17):
            bg = 0.003 + 0.012 * _smooth(rng, (2 * h4, 2 * w4))
            o1[0, j] = bg
            o0[0, j] = bg[::2, ::2]
            o0[0, 17 + j] = 0.8 * _smooth(rng, (h4, w4))
            for p in range(people):
                if rng.random() < 0.4:
                    continue
                y, x = rng.integers(2, h4 - 2), rng.integers(2, w4 - 2)
                amp = rng.uniform(0.02, 0.9)
                yy, xx = np.mgrid[:h4, :w4]
                g = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * rng.uniform(0.8, 1.5) ** 2))
                o0[0, j] = np.maximum(o0[0, j], amp * g)
                o1[0, j] = np.maximum(o1[0, j], amp * np.kron(g, np.ones((2, 2))))
                near = g > 0.1
                o0[0, 17 + j][near] = (p - people / 2) * 0.9 + rng.normal(0, 0.05, near.sum())
        outs += [o0, o1]
    return outs


def _persons(rng, h, w, n=12):
    persons = random_persons(rng, h, w, n, 0.5)
    persons[-1, :, 2] = 0  # nobody detected: the reference's NaN tag, index 0
    return persons


def test_rounded_bounds_hold_the_references_rounding():
    """Every pixel's rounded tag distance, computed as the reference does, lies within the
    block's (k_low, k_high) for every block and many tags."""
    outs = _network_like(1)
    det, tags = ref.aggregate(*outs)
    search = RefineSearch(Aggregated.from_outputs(*outs))
    b, (_, h, w) = search.BLOCK, det.shape
    rng = np.random.default_rng(1)
    t = search.tables()
    region = np.empty(t.nb, dtype=np.intp)  # each block's region
    region[t.block] = np.searchsorted(t.start, np.arange(t.nb), side="right") - 1
    for j in (0, 7, 16):
        cells, regions = j * t.nb + np.arange(t.nb), j * t.nr + region
        block_tags = tags[j].reshape(h // b, b, w // b, b, 2).transpose(0, 2, 1, 3, 4)
        block_tags = block_tags.reshape(-1, b * b, 2)  # row-major block ids
        for prev in rng.normal(0, 1.5, (20, 2)).astype(np.float32):
            low, high = search._rounded_bounds(t.cx[cells], t.cy[cells], t.radius[cells],
                                               np.broadcast_to(prev, (t.nb, 2)))
            k = np.round((((block_tags - prev) ** 2).sum(-1)) ** 0.5)
            assert (low[:, None] <= k).all() and (k <= high[:, None]).all()
            prev_all = np.broadcast_to(prev, (t.nb, 2))
            rlow, rhigh = search._rounded_bounds(t.rcx[regions], t.rcy[regions],
                                                 t.rradius[regions], prev_all)
            assert (rlow[:, None] <= k).all() and (k <= rhigh[:, None]).all()


@pytest.mark.parametrize("region,dense_regions", [(8, 0.25), (2, 0.25), (4, 0.0), (8, 2.0)])
@pytest.mark.parametrize("seed", [2, 3])
def test_refine_equals_reference_on_network_like_maps(monkeypatch, seed, region, dense_regions):
    """Through tiles (``dense_regions`` 2: never a whole joint map), whole joint maps (0:
    always) and the default switch, for several region sizes: each person's refine is the
    reference's, bit for bit."""
    monkeypatch.setattr(RefineSearch, "REGION", region)
    monkeypatch.setattr(RefineSearch, "DENSE_REGIONS", dense_regions)
    outs = _network_like(seed)
    det, tags = ref.aggregate(*outs)
    persons = _persons(np.random.default_rng(seed), *det.shape[1:])
    expected = np.array([ref.refine(det, tags, p.copy()) for p in persons])
    agg = Aggregated.from_outputs(*outs)
    np.testing.assert_array_equal(refine_people(RefineSearch(agg), persons.copy()), expected)
    assert not agg.heatmaps.is_dense  # tiles and joint maps, never the whole map
    dense = refine_people(RefineSearch(DenseMaps(det, tags)), persons.copy())
    np.testing.assert_array_equal(dense, expected)


def test_ties_between_constant_blocks_take_the_row_major_first():
    """Flat maps and flat tags: every pixel scores the same, so the answer is pixel 0; and
    with a plateau of equal maxima in a later block row, its first pixel."""
    h, w = 64, 96
    det = np.full((17, h, w), 0.01, np.float32)
    tags = np.zeros((17, h, w, 2), np.float32)
    search = RefineSearch(DenseMaps(det, tags))
    assert (search.argmax_pairs(np.arange(17), np.zeros((17, 2))) == 0).all()
    det[3, 20:30, 40:60] = 0.5
    det[3, 50, 10] = 0.5  # a later row: not first
    search = RefineSearch(DenseMaps(det, tags))
    assert search.argmax_pairs(np.array([3]), np.zeros((1, 2)))[0] == 20 * w + 40
    tags[3, 20:30, 40:60] = 5.0  # far tags there: the lone pixel wins
    search = RefineSearch(DenseMaps(det, tags))
    assert search.argmax_pairs(np.array([3]), np.zeros((1, 2)))[0] == 50 * w + 10
