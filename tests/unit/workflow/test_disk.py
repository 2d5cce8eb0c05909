"""The disk estimate of a run's intermediates and the refusal message."""

from __future__ import annotations

import numpy as np
import pytest

from higherhrnet.data.coco import ImageRecord
from higherhrnet.workflow.disk import (NPY_HEADER, check, estimate, options, raw_output_bytes,
                                       tensor_bytes, window_max)
from higherhrnet.errors import WorkflowError


def test_sizes_are_the_npy_files_the_stages_write(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((1, 3, 512, 704), np.float32))
    assert tensor_bytes(512, 704) == (tmp_path / "t.npy").stat().st_size
    np.save(tmp_path / "a.npy", np.zeros((1, 34, 128, 176), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((1, 17, 256, 352), np.float32))
    assert raw_output_bytes(512, 704) == sum((tmp_path / n).stat().st_size for n in ("a.npy", "b.npy"))
    assert NPY_HEADER == 128


def test_window_max():
    assert window_max([1, 5, 2, 7, 1], 2) == 9
    assert window_max([1, 5, 2], 9) == 8 and window_max([], 3) == 0


def records(n):  # 640x480 -> input 512x704 under ascend17
    return [ImageRecord(i, f"{i}.jpg", 640, 480) for i in range(n)]


def test_what_the_estimate_counts():
    """Kept: every image; temp tensors: the largest run of shards in flight (the workflow's
    scheduling bounds them); temp raw outputs: one pass in full (nothing orders a shard's two
    passes) plus the largest run of shards in flight of the other."""
    t, r = tensor_bytes(512, 704), raw_output_bytes(512, 704)
    est = estimate(records(24), 8, "ascend17", False, True, 2)
    assert est.tensors_bytes == 2 * 2 * 3 * t and est.raw_outputs_bytes == 2 * 24 * r
    est = estimate(records(24), 8, "ascend17", True, False, 2, model_bytes=10)
    assert est.tensors_bytes == 2 * 24 * t and est.raw_outputs_bytes == 24 * r + 2 * 3 * r
    assert est.total == est.tensors_bytes + est.raw_outputs_bytes + 10


def test_shape_policy_changes_the_estimate():
    tall = [ImageRecord(1, "a.jpg", 200, 1000)]  # reference: 512 x 2560; ascend17 clamps to 1024
    ref = estimate(tall, 1, "reference", True, True, 1)
    asc = estimate(tall, 1, "ascend17", True, True, 1)
    assert ref.total == 2 * (tensor_bytes(2560, 512) + raw_output_bytes(2560, 512))
    assert asc.total == 2 * (tensor_bytes(1024, 512) + raw_output_bytes(1024, 512))


def _plan(n=24):
    return lambda keep_t, keep_raw, shards: estimate(records(n), shards, "ascend17", keep_t,
                                                     keep_raw, 2)


def test_refusal_names_need_free_space_and_keys(tmp_path):
    plan = _plan()
    est, lean = plan(False, True, 8), plan(False, False, 8)
    opts = options(plan, 8, 24, False, True)
    check(est, tmp_path, free=est.total)  # fits exactly
    check(est, tmp_path, free=est.total - 5, reusable=5)  # earlier intermediates are replaced
    with pytest.raises(WorkflowError) as info:
        check(est, tmp_path, free=lean.total, options=opts)
    msg = str(info.value)
    assert f"not enough disk for this run in {tmp_path}" in msg
    assert f"needs about {est.total / 1e9:.2f} GB for 24 images" in msg
    assert f"only {lean.total / 1e9:.2f} GB are free" in msg
    assert "set keep_intermediates.raw_outputs: false" in msg
    assert f"needs about {lean.total / 1e9:.2f} GB" in msg


def test_only_settings_that_fit_are_suggested(tmp_path):
    """Issue 21: raw_outputs: false was suggested even when it did not fit either."""
    plan = _plan()
    est, lean = plan(False, True, 8), plan(False, False, 8)
    opts = options(plan, 8, 24, False, True)
    with pytest.raises(WorkflowError) as info:
        check(est, tmp_path, free=100_000_000, options=opts)  # lean needs far more
    msg = str(info.value)
    assert "set keep_intermediates" not in msg and "set shards" not in msg
    leanest = min(o.estimate.total for o in opts)
    assert leanest < lean.total  # 24 shards of one image hold less than 8 of three
    assert ("no setting makes it fit here (even keep_intermediates.raw_outputs: false and "
            "shards: 24") in msg
    assert f"free at least {(leanest - 100_000_000) / 1e9:.2f} GB more in {tmp_path}" in msg
    # temp raw outputs already: more shards fit (one pass's outputs in full stay)
    fits = plan(False, False, 16).total
    with pytest.raises(WorkflowError) as info:
        check(lean, tmp_path, free=fits, options=options(plan, 8, 24, False, False))
    msg = str(info.value)
    assert f"set shards: 16 (needs about {fits / 1e9:.2f} GB)" in msg
    assert "raw_outputs: false" not in msg  # it is false already
    # nothing to change: only the space it needs
    with pytest.raises(WorkflowError, match=r"free at least \d+\.\d\d GB more in"):
        check(lean, tmp_path, free=0)


def test_both_changes_suggested_only_when_neither_alone_fits(tmp_path):
    plan = _plan()
    est = plan(False, True, 8)
    both = plan(False, False, 16)
    assert both.total < plan(False, False, 8).total
    with pytest.raises(WorkflowError) as info:
        check(est, tmp_path, free=both.total, options=options(plan, 8, 24, False, True))
    msg = str(info.value)
    assert (f"set keep_intermediates.raw_outputs: false and shards: 16 (needs about "
            f"{both.total / 1e9:.2f} GB") in msg
    assert msg.count("set ") == 1
