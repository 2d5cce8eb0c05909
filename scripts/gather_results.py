"""Concatenate per-shard COCO results JSONs into one, deterministically.

    python scripts/gather_results.py --output all.json shard0.json shard1.json ...

Results are sorted by image id, keeping each image's original order (a stable sort), so
the output does not depend on how images were sharded.  Written atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.atomic import write_json  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.evaluation.cocoeval import load_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True, help="combined results JSON")
    p.add_argument("shards", nargs="*", help="per-shard results JSONs, in shard order")
    args = p.parse_args(argv)
    merged = []
    for path in args.shards:
        merged.extend(load_results(path))
    merged.sort(key=lambda r: int(r["image_id"]))
    write_json(args.output, merged, indent=None)
    print(f"gather_results: {len(merged)} results from {len(args.shards)} file(s) -> "
          f"{args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
