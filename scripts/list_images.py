"""List one shard of a folder of own images: a COCO image-info json (ids, files, sizes).

    python scripts/list_images.py --folder DIR --output listing.json [--shard K --num-shards N]

Images are found recursively (common extensions), their ids derive from their relative
paths and their shard is id % N (see higherhrnet.data.image_folder). Unreadable files get a line
each on stderr and an entry in the listing's "unreadable" list.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.data.image_folder import write_listing  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", required=True, help="folder of images (searched recursively)")
    p.add_argument("--output", required=True, help="listing json to write")
    p.add_argument("--shard", type=int, default=0, help="0-based shard index (default 0)")
    p.add_argument("--num-shards", "--num_shards", dest="num_shards", type=int, default=1)
    args = p.parse_args(argv)
    write_listing(args.folder, args.shard, args.num_shards, args.output)
    return 0


if __name__ == "__main__":
    cli_main(main)
