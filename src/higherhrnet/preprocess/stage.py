"""Preprocess and flip-preprocess stages: one shard of images -> NPY tensors + manifest.

Per image (docs/reference.md, "Data" and "Input size and warp"): read as the
reference does, geometry from the real pixels (size rule + shape policy), similarity warp,
ToTensor + Normalize, and write ``<stem>.npy`` float32 ``[1,3,H,W]`` to ``out_dir`` and/or
its width-flipped copy to ``flip_out_dir``. Unlike the Ascend script, the stem is the COCO
image id (12 digits), not the dataset index, so shards never collide.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..atomic import save_npy
from ..errors import WorkflowError
from ..data.coco import image_records, load_keypoint_annotations, shard_bounds
from ..data.image_folder import LISTING_FORMAT
from ..data.images import check_size, read_image_rgb
from .manifest import Manifest, ManifestEntry
from ..progress import Progress
from .shapes import INPUT_SIZE, SHAPE_POLICIES, crops, input_geometry
from .transforms import flip_width, to_normalized_tensor, warp_to_input


def preprocess_shard(annotations: str | os.PathLike, images_dir: str | os.PathLike, *,
                     out_dir: str | os.PathLike | None = None,
                     flip_out_dir: str | os.PathLike | None = None,
                     manifest_path: str | os.PathLike,
                     shard: int = 0, num_shards: int = 1,
                     policy: str = "ascend17", input_size: int = INPUT_SIZE,
                     scale: float = 1.0, min_scale: float = 1.0) -> Manifest:
    """Preprocess shard ``shard`` of ``num_shards`` of the images in ``annotations``, at
    ``scale`` of a test whose smallest scale is ``min_scale`` (the multi-scale test; 1, 1:
    the one-scale test) for a network of ``input_size`` (512, or 640 for the larger models).

    Writes through atomic renames, so an interrupted run leaves no half-written tensor.
    With neither ``out_dir`` nor ``flip_out_dir`` only the manifest is written (the images
    are still read, to check them and take their real size). An empty shard writes an empty
    manifest and creates the (empty) output folders. A listing of own images or video
    frames (:mod:`higherhrnet.image_folder`) already is one shard: all its images are taken.
    """
    if policy not in SHAPE_POLICIES:
        raise WorkflowError(f"unknown shape policy {policy!r}; choose one of {SHAPE_POLICIES}")
    if not 0 < min_scale <= scale:
        raise WorkflowError(f"scale {scale:g} with smallest scale {min_scale:g}: need "
                            "0 < min_scale <= scale")
    coco = load_keypoint_annotations(annotations)
    records = image_records(coco)
    if coco.get("format") == LISTING_FORMAT:  # own images / video: one shard's listing
        if (coco.get("shard"), coco.get("num_shards")) != (shard, num_shards):
            raise WorkflowError(f"listing {annotations}: holds shard {coco.get('shard')} of "
                                f"{coco.get('num_shards')}, asked for {shard} of {num_shards}")
    else:
        start, stop = shard_bounds(len(records), shard, num_shards)
        records = records[start:stop]
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise WorkflowError(f"images folder {images_dir}: not found")
    outs = [Path(d) for d in (out_dir, flip_out_dir) if d is not None]
    for d in outs:
        d.mkdir(parents=True, exist_ok=True)

    label = f"preprocess shard {shard}/{num_shards}"
    progress = Progress(len(records), label, every_s=5.0)
    entries, cropped = [], []
    for rec in records:
        path = images_dir / rec.file_name
        img = read_image_rgb(path)
        check_size(img, path, rec.width, rec.height)
        geom = input_geometry(img.shape[1], img.shape[0], policy, input_size, scale, min_scale)
        entry = ManifestEntry.from_geometry(rec.id, rec.file_name, geom)
        if crops(geom.width, geom.height, policy, input_size, min_scale):
            cropped.append(rec.file_name)
        if outs:
            tensor = to_normalized_tensor(warp_to_input(img, geom))
            if out_dir is not None:
                save_npy(Path(out_dir) / f"{entry.stem}.npy", tensor)
            if flip_out_dir is not None:
                save_npy(Path(flip_out_dir) / f"{entry.stem}.npy", flip_width(tensor))
        entries.append(entry)
        progress.update()
    if not records:
        print(f"{label}: empty shard (0 images)", file=sys.stderr)
    if cropped:
        print(cropped_message(label, cropped, policy), file=sys.stderr)
    manifest = Manifest(entries, policy, shard, num_shards, input_size, float(scale),
                        float(min_scale), cropped)
    manifest.write(manifest_path)
    return manifest



def cropped_message(label: str, cropped: list[str], policy: str) -> str:
    """The log line naming the images ``policy`` crops (all of them: one shard's few)."""
    return (f"{label}: {len(cropped)} image(s) cropped by shape policy {policy} (wider or "
            "taller than about 2:1: the guide's port cuts the long side to the longest compiled "
            "shape, keypoints beyond it are lost; preprocess.shape_policy ascend17_fit or "
            f"reference sees them whole): {', '.join(cropped)}")
