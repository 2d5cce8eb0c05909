"""Deterministic synthetic (UNTRAINED) weights for HigherHRNet-W32-512 and the other variants.

Implements ``../shared/reference/SYNTHETIC_WEIGHTS.md``: every state-dict entry gets its own
NumPy PCG64 generator seeded with ``zlib.crc32(name)``, one float64 draw of the full shape,
a per-kind scale, then a cast to float32. The same rule applied to the W48 layout gives the
W48-640 weights (``../shared/reference/variants/synthetic_weights_w48_640_checksums.tsv``);
W32-640 has the W32 layout, so the W32 weights. They let the whole workflow run offline; their
keypoints are noise, so every place that writes or loads them says so.

Detection (:func:`is_synthetic`) recomputes a few small entries and compares them exactly,
so it works for a renamed file and needs no extra key (a strict load allows none) and no
sidecar file.
"""

from __future__ import annotations

import math
import os
import sys
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from ..atomic import atomic_open

DEFAULT_FILE_NAME = "synthetic_untrained_higherhrnet_w32_512.pth"


def default_file_name(variant: str = "w32_512") -> str:
    return f"synthetic_untrained_higherhrnet_{variant}.pth"

WARNING = ("SYNTHETIC UNTRAINED WEIGHTS (deterministic random, SYNTHETIC_WEIGHTS.md): "
           "outputs are noise, keypoints and AP are meaningless")
# Small entries recomputed by is_synthetic(); any trained checkpoint differs in all of them.
_PROBE_ENTRIES = ("bn1.weight", "final_layers.0.bias", "final_layers.1.bias")


def entry_seed(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def synthetic_entry(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The value of one entry under the rule (float32, or int64 0 for BN counters)."""
    if name.endswith(".num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    rng = np.random.default_rng(entry_seed(name))
    if len(shape) == 4:
        fan = shape[1] * shape[2] * shape[3]
        value = rng.standard_normal(shape) * math.sqrt(0.5 / fan)
    elif name.endswith(".running_var"):
        value = 1.0 + 0.5 * rng.random(shape)
    elif name.endswith(".weight"):
        value = 1.0 + 0.1 * rng.standard_normal(shape)
    elif name.endswith((".bias", ".running_mean")):
        value = 0.1 * rng.standard_normal(shape)
    else:
        raise ValueError(f"no synthetic-weight rule for entry {name!r} with shape {shape}")
    return value.astype(np.float32)


def _layout(variant: str) -> "OrderedDict[str, tuple[int, ...]]":
    from .network import build_model

    return OrderedDict((k, tuple(v.shape)) for k, v in build_model(variant).state_dict().items())


def synthetic_state_dict(variant: str = "w32_512") -> "OrderedDict[str, torch.Tensor]":
    """The full synthetic state dict of ``variant``, in the model's state-dict order."""
    return OrderedDict((name, torch.from_numpy(synthetic_entry(name, shape)))
                       for name, shape in _layout(variant).items())


def warn_synthetic(source: str, action: str) -> None:
    """Say loudly (stderr, which Snakemake keeps in the rule's log) that ``source`` holds synthetic weights."""
    print(f"WARNING: {source} {action} {WARNING}", file=sys.stderr)


def write_synthetic_weights(path: str | os.PathLike | None = None,
                            variant: str = "w32_512") -> Path:
    """Write the synthetic weights of ``variant`` as a plain state-dict .pth (atomically);
    return the path.

    A directory (or None: the current directory) gets :func:`default_file_name`.
    """
    as_dir = path is None or str(path).endswith(("/", os.sep)) or Path(path).is_dir()
    path = Path(path if path is not None else ".")
    if as_dir:
        path = path / default_file_name(variant)
    state = synthetic_state_dict(variant)
    with atomic_open(path, "wb") as fh:
        torch.save(state, fh)
    warn_synthetic(str(path), "written:")
    return path


def is_synthetic(source: str | os.PathLike | Mapping[str, torch.Tensor]) -> bool:
    """True when the weights (a .pth path or a state dict) are the synthetic ones."""
    if isinstance(source, Mapping):
        state = source
    else:
        from .checkpoint import load_state_dict_file

        state = load_state_dict_file(source, mmap=True)
    for name in _PROBE_ENTRIES:
        value = state.get(name)
        if not isinstance(value, torch.Tensor):
            return False
        expected = synthetic_entry(name, tuple(value.shape))
        got = value.detach().cpu().numpy()
        if got.dtype != expected.dtype or not np.array_equal(got, expected):
            return False
    return True
