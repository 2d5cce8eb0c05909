"""The postprocess stage as a package: raw network outputs -> COCO keypoint results.

* :mod:`.stage`: the stage entry (read a shard's outputs, check them, write the results);
* :mod:`.aggregate`, :mod:`.heatmap_tiles`: the flip-test aggregation of the two passes;
* :mod:`.grouping`, :mod:`.assignment`: associative-embedding grouping (NMS, top-k,
  match_by_tag, adjust, refine);
* :mod:`.coco_results`: predictions back to image pixels and into COCO results.

Nothing is imported here, so a module of the package can be imported on its own.
"""
