"""Generate the small deterministic offline dataset (COCO person-keypoint format).

    python scripts/make_synthetic_dataset.py --images data/synthetic/images \
        --annotations data/synthetic/person_keypoints.json --num-images 16 --seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.data.synthetic import generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", required=True, help="folder for the JPEGs")
    p.add_argument("--annotations", required=True, help="COCO keypoints json to write")
    p.add_argument("--num-images", "--num_images", dest="num_images", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.num_images < 0:
        p.error("--num-images must be >= 0")
    generate(args.images, args.annotations, num_images=args.num_images, seed=args.seed)
    return 0


if __name__ == "__main__":
    cli_main(main)
