"""Preprocess (and/or flip-preprocess) one shard of a COCO keypoint dataset.

    python scripts/preprocess.py --annotations data/coco/annotations/person_keypoints_val2017.json \
        --images data/coco/images/val2017 --output prep_dir --output_flip prep_flip_dir \
        --manifest prep_dir/manifest.json [--shard K --num-shards N] [--shape-policy ascend17] \
        [--input-size 512] [--scale S --min-scale M]

``--scale S --min-scale M`` (default 1, 1) preprocesses scale S of the multi-scale test
whose smallest scale is M (its sizes are aligned at M); the manifest records them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.preprocess.stage import preprocess_shard  # noqa: E402
from higherhrnet.preprocess.shapes import INPUT_SIZE, SHAPE_POLICIES  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True, help="COCO person_keypoints json")
    p.add_argument("--images", required=True, help="folder holding the images' file_name")
    p.add_argument("--output", help="folder for <image_id:012d>.npy float32 [1,3,H,W]")
    p.add_argument("--output_flip", "--output-flip", dest="output_flip",
                   help="folder for the width-flipped tensors (same names)")
    p.add_argument("--manifest", required=True, help="manifest json to write")
    p.add_argument("--shard", type=int, default=0, help="0-based shard index (default 0)")
    p.add_argument("--num-shards", "--num_shards", dest="num_shards", type=int, default=1,
                   help="number of shards; contiguous blocks in JSON order (default 1)")
    p.add_argument("--shape-policy", "--shape_policy", dest="shape_policy",
                   choices=SHAPE_POLICIES, default="ascend17",
                   help="ascend17: long side snapped into 512..1024 (17 ATC shapes; the "
                        "guide's port, which crops images wider or taller than about 2:1 and "
                        "now names them); ascend17_fit: the same shapes, such images scaled "
                        "down to fit whole (letterbox); reference: no clamp (valid.py)")
    p.add_argument("--input-size", "--input_size", dest="input_size", type=int,
                   default=INPUT_SIZE, help="the model's input size: 512 (W32-512) or 640 "
                   "(W32-640, W48-640) (default %(default)s)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="scale factor of the multi-scale test to preprocess (default 1)")
    p.add_argument("--min-scale", "--min_scale", dest="min_scale", type=float, default=1.0,
                   help="the test's smallest scale factor: sizes are aligned at it (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    m = preprocess_shard(args.annotations, args.images, out_dir=args.output,
                         flip_out_dir=args.output_flip, manifest_path=args.manifest,
                         shard=args.shard, num_shards=args.num_shards, policy=args.shape_policy,
                         input_size=args.input_size, scale=args.scale, min_scale=args.min_scale)
    print(f"preprocess: {len(m.entries)} images -> manifest {args.manifest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
