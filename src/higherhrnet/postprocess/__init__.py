"""The postprocess stage as a package: raw network outputs -> COCO keypoint results.

* :mod:`.stage`: the stage entry (read a shard's outputs, check them, write the results),
  running one of two peers chosen by ``postprocess.path``:

  - ``reference``: :mod:`.reference`, a straight port of the reference test-time
    computation over dense maps (docs/reference.md), slow and meant to be read;
  - ``fast``: :mod:`.aggregate` and :mod:`.heatmap_tiles` (maps computed only where
    grouping looks), :mod:`.grouping` (reading them through :mod:`.maps`), with the same
    results bit for bit;
* :mod:`.params`: the grouping parameters (defaults from the config schema);
  :mod:`.assignment`: the Munkres solver both paths use;
* :mod:`.coco_results`: predictions back to image pixels and into COCO results;
* :mod:`.multiscale`: the reference's multi-scale test (several scales' outputs of one
  shard averaged at the scale-1 size, then the same parser over :class:`.maps.DenseMaps`).

Nothing is imported here, so a module of the package can be imported on its own.
"""
