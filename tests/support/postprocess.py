"""The fast grouping's map interface (:mod:`higherhrnet.postprocess.maps`) over dense arrays:
runs the fast parser's steps on crafted or noise maps given as whole ``det``/``tags``.
The implementations live in the library (the multi-scale postprocess uses them)."""

from higherhrnet.postprocess.maps import DenseHeatmaps, DenseMaps

__all__ = ["DenseHeatmaps", "DenseMaps"]
