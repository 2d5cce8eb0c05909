"""ais_bench's output layout, the contract between inference and postprocess (one home).

For input ``<stem>.npy`` of shape ``[1,3,h,w]`` every backend writes, as ais_bench does,
``<output>/<dirname>/<stem>_0.npy`` (output1) and ``<stem>_1.npy`` (output2), and the run's
``<output>/<dirname>_summary.json``. Kept apart from the engines (:mod:`.engine`) so that
postprocess reads the names without importing the engines (and its code digest does not
cover the model).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..preprocess.shapes import OUTPUTS


def output_shapes(h: int, w: int, num_joints: int = 17
                  ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Expected shapes of ``<stem>_0.npy`` and ``<stem>_1.npy`` for a ``[1,3,h,w]`` input of
    a model with ``num_joints`` joints (COCO's 17: the channels of ``OUTPUTS``)."""
    return tuple((1, c * num_joints // 17, h // s, w // s)  # type: ignore[return-value]
                 for _, c, s in OUTPUTS)


def output_paths(output: str | os.PathLike, dirname: str, stem: str) -> tuple[Path, Path]:
    folder = Path(output) / dirname
    return folder / f"{stem}_0.npy", folder / f"{stem}_1.npy"


def summary_path(output: str | os.PathLike, dirname: str) -> Path:
    return Path(output) / f"{dirname}_summary.json"
