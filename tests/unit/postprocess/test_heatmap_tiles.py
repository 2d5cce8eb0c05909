"""Tiled final heatmaps equal the dense resize bit for bit; bounds really bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from higherhrnet.postprocess.aggregate import Aggregated
from higherhrnet.postprocess.reference import aggregate as reference_aggregate
from higherhrnet.postprocess.heatmap_tiles import LazyHeatmaps, crops_are_exact, project

OUTPUTS = ("normal_output0", "normal_output1", "flipped_output0", "flipped_output1")


def test_torch_crops_are_exact_here():
    assert crops_are_exact()


@pytest.mark.parametrize("hw", [(64, 96), (71, 99), (40, 33)])
def test_every_tile_equals_the_dense_resize(hw):
    """(Four maps, not three: single-threaded torch resizes exactly 3 channels with another
    kernel, see test_grouping; the postprocess never resizes 3.)"""
    rng = np.random.default_rng(hw[0])
    src = [torch.from_numpy(rng.normal(0, 2, (4, *hw)).astype(np.float32)) for _ in "nf"]
    lazy, dense = LazyHeatmaps(*src), project(*src)
    assert not lazy.is_dense
    everywhere = np.arange(dense.shape[1] * dense.shape[2])
    for j in range(4):
        np.testing.assert_array_equal(lazy.at(j, everywhere), dense[j].ravel())
        if dense.shape[1] % 8 or dense.shape[2] % 8:
            continue  # block bounds serve refine's 8x8 blocks, on maps of whole blocks
        bound = lazy.block_bound(j, 8)
        blocks = dense[j].reshape(dense.shape[1] // 8, 8, dense.shape[2] // 8, 8).max(axis=(1, 3))
        assert (bound >= blocks).all()


def test_crafted_tiles_above_threshold(reference):
    crafted = np.load(reference / "postprocess" / "crafted_640x427.npz")
    agg = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS))
    hm = agg.heatmaps
    hm.prepare(0.1)
    assert not hm.is_dense  # sparse: only a few tiles computed
    dense, _ = reference_aggregate(*(crafted[k] for k in OUTPUTS))
    for j in range(17):
        np.testing.assert_array_equal(hm.above(j, 0.1), np.flatnonzero(dense[j] > 0.1))
        low = hm.above_or_low(j, np.arange(dense[j].size), 0.1)
        assert ((low == dense[j].ravel()) | ((low == -np.inf) & (dense[j].ravel() <= 0.1))).all()


def test_above_all_equals_per_joint_above(reference):
    """The batched search over all joints' tiles finds exactly each joint's pixels."""
    crafted = np.load(reference / "postprocess" / "crafted_640x427.npz")
    hm = Aggregated.from_outputs(*(crafted[k] for k in OUTPUTS)).heatmaps
    js, flat = hm.above_all(0.1)
    assert not hm.is_dense
    for j in range(17):
        np.testing.assert_array_equal(flat[js == j], hm.above(j, 0.1))
    assert np.all(np.diff(js) >= 0)


@pytest.mark.parametrize("hw", [(32, 32), (33, 47), (64, 96), (73, 101), (130, 65)])
def test_tile_and_block_bounds_equal_sliced_maxima(hw):
    """The torch block reductions give exactly the maxima/minima of the source windows
    each tile (or 8x8 block) of the x2 resize reads, shifted last tiles included."""
    from higherhrnet.postprocess.heatmap_tiles import TILE, tile_window_max, window_reduce
    rng = np.random.default_rng(hw[0] * hw[1])
    src = rng.normal(0, 3, (3, *hw)).astype(np.float32)
    h, w = hw
    ys = np.minimum(np.arange(0, 2 * h, TILE), 2 * h - TILE)
    xs = np.minimum(np.arange(0, 2 * w, TILE), 2 * w - TILE)
    win = lambda s, n, a=TILE // 2: slice(max(s // 2 - 1, 0), min(s // 2 + a + 1, n))  # noqa
    expected = np.array([[[src[c, win(y, h), win(x, w)].max() for x in xs] for y in ys]
                         for c in range(3)])
    assert np.array_equal(tile_window_max(src, (2 * h, 2 * w)), expected)
    for hb in (1, 4, 5):
        for fn, red in ((np.maximum, np.max), (np.minimum, np.min)):
            want = np.array([[[red(src[c, win(2 * by * hb, h, hb), win(2 * bx * hb, w, hb)])
                               for bx in range(w // hb)] for by in range(h // hb)]
                             for c in range(3)])
            assert np.array_equal(window_reduce(src, hb, fn), want)


def test_tiled_nms_equals_dense_max_pool():
    """Peaks from the tiles' own max-pool (windows inside a tile or cut by the image border)
    plus the gathered windows near inner tile edges equal the reference's dense max-pool,
    with ties (quantised values) and blobs across tile edges and shifted border tiles."""
    from higherhrnet.postprocess.params import GroupingParams
    rng = np.random.default_rng(5)
    h, w = 100, 130  # output 200x260: the last tile row and column are shifted
    yy, xx = np.mgrid[0:h, 0:w]
    src = []
    for _ in "nf":
        maps = rng.uniform(0, 0.05, (4, h, w))
        for j, (cy, cx) in enumerate([(32, 32), (1, 64), (h - 2, w - 3), (50, 97)]):
            blob = 0.9 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 60.0)
            maps[j] += np.round(blob * 8) / 8  # plateaus: ties
        src.append(torch.from_numpy(maps.astype(np.float32)))
    lazy, dense = LazyHeatmaps(*src), project(*src)
    params = GroupingParams()
    js, flat = lazy.peaks(params.detection_threshold, params.nms_padding)
    assert not lazy.is_dense
    _, _, decided, _ = lazy.above_all(params.detection_threshold, params.nms_padding)
    assert decided.any() and not decided.all()  # both ways of deciding are exercised
    pooled = torch.nn.functional.max_pool2d(torch.from_numpy(dense)[None], 5, 1, 2)[0].numpy()
    want = np.nonzero(((dense > 0.1) & (pooled == dense)).reshape(4, -1))
    np.testing.assert_array_equal(js, want[0])
    np.testing.assert_array_equal(flat, want[1])


@pytest.mark.parametrize("hw", [(32, 32), (64, 96), (68, 100), (100, 36)])
def test_tile_bounds_from_block_bounds_equal_the_tile_windows(hw):
    """Tiles' source-window maxima taken over their 8x8 blocks' windows (shifted last tiles
    included) equal the maxima over the tiles' own windows."""
    from higherhrnet.postprocess.heatmap_tiles import (TILE, _tiles_of_blocks, tile_window_max,
                                                       window_reduce)
    rng = np.random.default_rng(hw[0] + hw[1])
    src = rng.normal(0, 3, (3, *hw)).astype(np.float32)
    blocks = window_reduce(src, 4, np.maximum)
    np.testing.assert_array_equal(_tiles_of_blocks(blocks, TILE // 8),
                                  tile_window_max(src, (2 * hw[0], 2 * hw[1])))


@pytest.mark.parametrize("hw,hb", [((40, 64), 4), ((37, 50), 5), ((33, 45), 4)])
def test_turned_back_reads_equal_the_flipped_and_permuted_copy(hw, hb):
    """A flipped pass read through TurnedBack (where points are stored, crops, channels,
    window reductions: the mirrored windows and the fallback for widths that are not a
    multiple) equals ``flip(raw[flip_index], width)`` made as a copy."""
    from higherhrnet.postprocess.heatmap_tiles import TurnedBack, window_reduce
    rng = np.random.default_rng(hw[1])
    raw = torch.from_numpy(rng.normal(0, 2, (5, *hw)).astype(np.float32))
    perm = [1, 0, 2, 4, 3]
    turned = TurnedBack(raw, perm)
    copy = np.ascontiguousarray(raw.numpy()[perm][:, :, ::-1])
    np.testing.assert_array_equal(turned.whole().numpy(), copy)
    for j in range(5):
        np.testing.assert_array_equal(turned.channel(j).numpy(), copy[j])
    ch, ys, xs = rng.integers(0, 5, 200), rng.integers(0, hw[0], 200), rng.integers(0, hw[1], 200)
    base, cols = turned.locate(ch, xs)  # where (ch, y, x) is stored
    np.testing.assert_array_equal(turned.values.reshape(-1)[base + ys * hw[1] + cols],
                                  copy[ch, ys, xs])
    js, r0 = rng.integers(0, 5, 30), rng.integers(0, hw[0] - 9, 30)
    c0 = rng.integers(0, hw[1] - 7, 30)
    want = np.stack([copy[j, r: r + 9, c: c + 7] for j, r, c in zip(js, r0, c0)])
    np.testing.assert_array_equal(turned.crops(js, r0, c0, 9, 7), want)
    for fn in (np.maximum, np.minimum):
        np.testing.assert_array_equal(turned.window_reduce(hb, fn), window_reduce(copy, hb, fn))
