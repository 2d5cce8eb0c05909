"""Decode one shard of a video's sampled frames to PNG files and a listing json.

    python scripts/extract_frames.py --video V --frames-dir D --listing L \
        [--frame-stride S --max-frames M --shard K --num-shards N]

The j-th sampled frame (source frame j*S, j < M unless M is 0) goes to shard j % N.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.data.video import extract_shard  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", required=True)
    p.add_argument("--frames-dir", "--frames_dir", required=True, help="folder for the PNGs")
    p.add_argument("--listing", required=True, help="listing json to write")
    p.add_argument("--frame-stride", "--frame_stride", type=int, default=1)
    p.add_argument("--max-frames", "--max_frames", type=int, default=0, help="0: no limit")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", "--num_shards", dest="num_shards", type=int, default=1)
    a = p.parse_args(argv)
    extract_shard(a.video, stride=a.frame_stride, max_frames=a.max_frames, shard=a.shard,
                  num_shards=a.num_shards, frames_dir=a.frames_dir, listing_path=a.listing)
    return 0


if __name__ == "__main__":
    cli_main(main)
