"""Generate the small deterministic offline dataset (COCO person-keypoint format).

    python scripts/make_synthetic_dataset.py --images data/synthetic/images \
        --annotations data/synthetic/person_keypoints.json --num-images 16 --seed 0

``--keypoints crowdpose`` writes CrowdPose-format labels of the same images instead (14
joints and crowdIndex, by the rule of higherhrnet.data.crowdpose).
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
    p.add_argument("--keypoints", choices=("coco", "crowdpose"), default="coco",
                   help="the labels' joints (default coco)")
    args = p.parse_args(argv)
    if args.num_images < 0:
        p.error("--num-images must be >= 0")
    generate(args.images, args.annotations, num_images=args.num_images, seed=args.seed)
    if args.keypoints == "crowdpose":
        from higherhrnet.atomic import write_json
        from higherhrnet.data.crowdpose import from_coco
        from higherhrnet.files import read_json

        write_json(args.annotations, from_coco(read_json(Path(args.annotations), "annotations")))
    return 0


if __name__ == "__main__":
    cli_main(main)
