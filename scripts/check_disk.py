"""Refuse a run whose intermediates will not fit on the disk, before any long work.

    python scripts/check_disk.py --annotations A.json --shards 50 --shape-policy ascend17 \
        --shards-in-flight 4 [--keep-tensors] [--keep-raw-outputs] [--onnx M.onnx] \
        [--intermediates DIR ...] --output disk_check.json

Estimates the peak from the image sizes (see higherhrnet.disk), compares it with the free
space of the output's file system (plus what the --intermediates folders already hold) and
writes the estimate as JSON, or exits 2 with a message naming the need, the free space and
the config keys that change it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.atomic import write_json  # noqa: E402
from higherhrnet.coco import image_records, load_keypoint_annotations  # noqa: E402
from higherhrnet.disk import ONNX_BYTES, check, estimate, folder_bytes, free_bytes, gb  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.shapes import SHAPE_POLICIES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True, help="COCO person-keypoints json")
    p.add_argument("--shards", type=int, required=True)
    p.add_argument("--shape-policy", choices=SHAPE_POLICIES, default="ascend17")
    p.add_argument("--shards-in-flight", type=int, required=True)
    p.add_argument("--keep-tensors", action="store_true")
    p.add_argument("--keep-raw-outputs", action="store_true")
    p.add_argument("--onnx", help="the ONNX model the run exports (counted when missing)")
    p.add_argument("--intermediates", nargs="*", default=[],
                   help="folders of earlier intermediates (replaced, so their space counts)")
    p.add_argument("--output", required=True, help="estimate (JSON)")
    args = p.parse_args(argv)
    records = image_records(load_keypoint_annotations(args.annotations))
    model = ONNX_BYTES if args.onnx and not Path(args.onnx).exists() else 0

    def plan(keep_raw: bool):
        return estimate(records, args.shards, args.shape_policy, args.keep_tensors, keep_raw,
                        args.shards_in_flight, model)

    est = plan(args.keep_raw_outputs)
    where = Path(args.output).absolute().parent
    free, reusable = free_bytes(where), folder_bytes(args.intermediates)
    check(est, where, free, reusable, without_raw=plan(False))
    write_json(args.output, {**est.as_dict(), "free_bytes": free, "reusable_bytes": reusable})
    print(f"check_disk: about {gb(est.total)} needed for {est.images} images, {gb(free)} free "
          f"in {where}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
