"""Unpack val2017.zip and annotations_trainval2017.zip into the guide's data/coco layout:
<root>/images/val2017/*.jpg and <root>/annotations/person_keypoints_val2017.json.

    python scripts/unpack_coco.py --images-zip resources/val2017.zip \
        --annotations-zip resources/annotations_trainval2017.zip --root data/coco
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.data.download import unpack_coco  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images-zip", "--images_zip", dest="images_zip", required=True)
    p.add_argument("--annotations-zip", "--annotations_zip", dest="annotations_zip",
                   required=True)
    p.add_argument("--root", required=True, help="dataset root, e.g. data/coco")
    for zip_name in ("images", "annotations"):
        p.add_argument(f"--{zip_name}-size", type=int, help=f"expected size of the {zip_name} zip")
        p.add_argument(f"--{zip_name}-md5", help=f"expected md5 of the {zip_name} zip")
    args = p.parse_args(argv)
    ann, images = unpack_coco(args.images_zip, args.annotations_zip, args.root,
                              images_check=(args.images_size, args.images_md5),
                              annotations_check=(args.annotations_size, args.annotations_md5))
    print(f"unpack: {ann} and {images}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
