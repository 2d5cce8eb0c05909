"""The synthetic-weight checksum tables of ../shared/reference (one per layout) against a
state dict."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from higherhrnet.model.synthetic_weights import entry_seed


def read_tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def assert_matches_checksums(tsv_path, state) -> None:
    """Every row (name, crc32 seed, float64 sum and abs sum, first value), in state-dict order."""
    rows = read_tsv(tsv_path)
    assert [r["name"] for r in rows] == list(state)
    for r in rows:
        name = r["name"]
        value = state[name].numpy()
        assert entry_seed(name) == int(r["crc32_seed"]), name
        total = value.astype(np.float64)
        assert total.sum() == pytest.approx(float(r["sum_float64"]), rel=1e-9, abs=1e-12), name
        assert np.abs(total).sum() == pytest.approx(float(r["sum_abs_float64"]), rel=1e-9,
                                                    abs=1e-12), name
        first = value.reshape(-1)[0] if value.ndim else value[()]
        if value.dtype == np.int64:
            assert first == int(float(r["first_value"])), name
        else:
            assert np.float32(first) == np.float32(float(r["first_value"])), name
