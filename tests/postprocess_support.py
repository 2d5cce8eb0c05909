"""The fast grouping's map interface (:mod:`higherhrnet.postprocess.maps`) over dense arrays:
runs the fast parser's steps on crafted or noise maps given as whole ``det``/``tags``."""

from __future__ import annotations

import numpy as np

from higherhrnet.postprocess.heatmap_tiles import block_reduce, dense_peaks


class DenseHeatmaps:
    """:class:`~higherhrnet.postprocess.maps.Heatmaps` over a dense ``[C,H,W]`` array."""

    def __init__(self, det: np.ndarray):
        self.det = det
        self.shape = det.shape
        self._flat = det.reshape(det.shape[0], -1)
        self._all = det.reshape(-1)

    def peaks(self, threshold: float, nms_pad: int):
        return dense_peaks(self.det, threshold, nms_pad)

    def at(self, j, flat: np.ndarray) -> np.ndarray:
        if np.ndim(j) == 0:
            return self._flat[j][np.asarray(flat, dtype=np.intp)]
        return self._all[np.asarray(j) * self._flat.shape[1] + np.asarray(flat, dtype=np.intp)]

    def block_bound(self, j: int, b: int) -> np.ndarray:
        return block_reduce(self.det[j], b, np.maximum)

    def materialize(self) -> np.ndarray:
        return self.det


class DenseMaps:
    """:class:`~higherhrnet.postprocess.maps.Maps` over dense ``det [17,H,W]`` and
    ``tags [17,H,W,2]``."""

    def __init__(self, det: np.ndarray, tags: np.ndarray):
        self.det = det
        self.tags = tags
        self.heatmaps = DenseHeatmaps(det)

    def tags_at(self, j, flat: np.ndarray) -> np.ndarray:
        t = self.tags.reshape(self.tags.shape[0], -1, self.tags.shape[-1])
        return t[j, np.asarray(flat, dtype=np.intp)]

    def tag_block_bounds(self, j: int, block: int):
        return (block_reduce(self.tags[j], block, np.minimum),
                block_reduce(self.tags[j], block, np.maximum))
