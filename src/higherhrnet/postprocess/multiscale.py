"""The reference's multi-scale test (``TEST.SCALE_FACTOR``), for one shard.

Facts: ../shared/reference/multiscale/README.md (valid.py, ``get_multi_stage_outputs``,
``aggregate_results``). Per image, each scale's two passes come from their own dump folders
and manifest (preprocessed at that scale, sizes aligned at the smallest scale). The scales
are visited in descending order; each scale's flip-test heatmaps and tags are projected
(bilinear, ``align_corners=False``) to the scale-1 size (``base_size``); the heatmaps
``(normal + flipped) / 2`` are summed over the scales and divided by their number, the tags
``[17,H,W,2]`` (normal, flipped) are scale 1's only. Then the one-scale parser (fast: over
:class:`.maps.DenseMaps`; reference: :func:`.reference.parse`) and the inverse transform
with the smallest scale's center and scale onto ``base_size``.

With one scale the stage (:mod:`.stage`) runs as it always has; this module is for two or
more.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..atomic import write_json
from ..errors import WorkflowError
from ..preprocess.manifest import Manifest, ManifestEntry
from ..progress import Progress
from ..data.keypoints import COCO, keypoint_set
from ..preprocess.shapes import Geometry, check_scales, format_scale
from . import grouping, reference
from .coco_results import results_for_image, to_image
from .maps import DenseMaps
from .params import PATHS, GroupingParams
from .stage import OutputReader, check_complete, expected_shapes, output_paths


def aggregate_scales(per_scale: Sequence[tuple[float, Sequence[np.ndarray]]],
                     base_hw: tuple[int, int],
                     flip_index=COCO.flip_index) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``det [J,H,W]`` and ``tags [J,H,W,2]`` of the multi-scale test.

    ``per_scale``: ``(scale, [normal_0, normal_1, flipped_0, flipped_1])`` in visiting
    (descending) order; ``base_hw``: the scale-1 input size ``(H, W)``.
    """
    final = None
    tags: list[torch.Tensor] = []
    for scale, (n0, n1, f0, f1) in per_scale:
        hm_n, tag_n = reference.one_pass(n0, n1, False, flip_index)
        hm_f, tag_f = reference.one_pass(f0, f1, True, flip_index)
        hm_n, hm_f = (reference._resize(t, base_hw) for t in (hm_n, hm_f))
        if scale == 1 or len(per_scale) == 1:  # tags from scale 1 only
            tags += [reference._resize(tag_n, base_hw), reference._resize(tag_f, base_hw)]
        avg = (hm_n + hm_f) / 2.0
        final = avg if final is None else final + avg
    final = final / float(len(per_scale))
    return final[0].numpy(), torch.stack(tags, dim=-1)[0].numpy()


def parse_dense(det: np.ndarray, tags: np.ndarray, params: GroupingParams, path: str):
    """The one-scale parser on dense maps, by ``path``."""
    if path == "fast":
        return grouping.parse(DenseMaps(det, tags), params)
    if path == "reference":
        return reference.parse(det, tags, params)
    raise ValueError(f"postprocess path must be one of {PATHS}, got {path!r}")


def final_geometry(entry: ManifestEntry, base: Geometry) -> Geometry:
    """``get_final_preds(grouped, center, scale, base_size)``: the last visited (smallest)
    scale's center and scale, onto the scale-1 size."""
    return Geometry(entry.width, entry.height, base.input_w, base.input_h,
                    tuple(entry.center), tuple(entry.scale))


def check_manifests(scales: Sequence[float], manifests: Sequence[Manifest],
                    paths: Sequence) -> None:
    """Each manifest is for its scale of the same test, over the same images."""
    min_scale = min(scales)
    first = manifests[0]
    for scale, m, path in zip(scales, manifests, paths):
        if (m.scale, m.min_scale) != (scale, min_scale) or m.input_size != first.input_size:
            raise WorkflowError(
                f"manifest {path}: preprocessed at scale {format_scale(m.scale)} of a test "
                f"whose smallest scale is {format_scale(m.min_scale)} (input size "
                f"{m.input_size}), but it is given for scale {format_scale(scale)} with "
                f"smallest scale {format_scale(min_scale)} (input size {first.input_size}): "
                "give one --dump_dir, --dump_dir_flip and --manifest per scale, in the order "
                "of --scales")
        if [e.stem for e in m.entries] != [e.stem for e in first.entries]:
            raise WorkflowError(f"manifest {path}: lists other images than {paths[0]} (the "
                                "scales of one shard must be preprocessed from the same images)")


def postprocess_scales(scales: Sequence[float], manifests: Sequence[Manifest], dump_dirs,
                       dump_dirs_flip, params: GroupingParams = GroupingParams(),
                       log: bool = True, path: str = "fast") -> list[dict]:
    """COCO results for every image of the shard, in manifest order (scales descending)."""
    order = sorted(range(len(scales)), key=lambda i: -scales[i])
    scales = [scales[i] for i in order]
    manifests = [manifests[i] for i in order]
    dirs = [(Path(dump_dirs[i]), Path(dump_dirs_flip[i])) for i in order]
    for m, (d, f) in zip(manifests, dirs):
        check_complete(m.entries, d, f)
    one = manifests[scales.index(1.0)] if 1.0 in scales else manifests[0]
    results: list[dict] = []
    progress = Progress(len(one.entries), f"postprocess {len(scales)} scales ({path})",
                        enabled=log)
    reader = OutputReader()
    kps = keypoint_set(params.keypoints)
    for n, entry in enumerate(one.entries):
        per_scale = []
        for k, (scale, m, (d, f)) in enumerate(zip(scales, manifests, dirs)):
            e = m.entries[n]
            paths = output_paths(e, d, f)
            per_scale.append((scale, [reader.read(4 * k + i, p, s) for i, (p, s) in
                                      enumerate(zip(paths, expected_shapes(e, kps.num_joints)))]))
        base = one.base_geometry(entry)
        det, tags = aggregate_scales(per_scale, (base.input_h, base.input_w), kps.flip_index)
        try:
            parsed = parse_dense(det, tags, params, path)
        except (ValueError, RuntimeError) as exc:  # the assignment's refusals
            raise WorkflowError(f"image {entry.image_id} ({len(scales)} scales): grouping "
                                f"failed: {exc}") from None
        preds = to_image(parsed.refined, final_geometry(manifests[-1].entries[n], base))
        results.extend(results_for_image(entry.image_id, preds, parsed.scores))
        progress.update(note=f"{len(results)} people")
    return results


def run(scales: Sequence[float], dump_dirs, dump_dirs_flip, manifest_paths, output,
        params: GroupingParams, path: str = "fast") -> list[dict]:
    """The stage with several scales: read the manifests, post-process, write atomically."""
    if path not in PATHS:
        raise WorkflowError(f"postprocess path must be one of {PATHS}, got {path!r}")
    counts = {len(dump_dirs), len(dump_dirs_flip), len(manifest_paths)}
    if counts != {len(scales)}:
        raise WorkflowError(
            f"--scales {','.join(map(format_scale, scales))}: {len(scales)} scale(s) need as "
            f"many --dump_dir ({len(dump_dirs)} given), --dump_dir_flip "
            f"({len(dump_dirs_flip)}) and --manifest ({len(manifest_paths)}), in that order")
    try:
        check_scales(scales)
    except ValueError as exc:
        raise WorkflowError(f"postprocess: {exc}") from None
    scales = [float(s) for s in scales]
    manifests = [Manifest.read(p) for p in manifest_paths]
    check_manifests(scales, manifests, manifest_paths)
    if not manifests[0].entries:
        print(f"postprocess: manifest {manifest_paths[0]} has no images; writing []",
              file=sys.stderr)
    results = postprocess_scales(scales, manifests, dump_dirs, dump_dirs_flip, params,
                                 path=path)
    write_json(output, results, indent=None)
    return results
