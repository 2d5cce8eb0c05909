"""Post-process one shard: both passes' raw outputs -> COCO keypoint results JSON.

    python scripts/postprocess.py --dump_dir D --dump_dir_flip F --manifest M --output results.json

``--dump_dir`` holds the normal-input run's ``<stem>_0.npy``/``<stem>_1.npy``,
``--dump_dir_flip`` the flipped-input run's (the Ascend guide's flags; hyphenated spellings
work too).  The grouping numbers default to the reference (w32_512 yaml) values, taken from
``postprocess.*`` in schemas/config.schema.yaml.  ``--path reference`` runs the straight port
of the reference computation instead of the fast one (same results, much slower).

The multi-scale test: ``--scales 2,1,0.5`` and then one ``--dump_dir``, one
``--dump_dir_flip`` and one ``--manifest`` per scale, repeated in that order::

    python scripts/postprocess.py --scales 2,1,0.5 --dump_dir D2 --dump_dir_flip F2 \
        --manifest M2 --dump_dir D1 ... --manifest M0.5 --output results.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import WorkflowError, cli_main  # noqa: E402
from higherhrnet.postprocess.assignment import ASSIGNMENTS  # noqa: E402
from higherhrnet.data.keypoints import KEYPOINT_SETS  # noqa: E402
from higherhrnet.postprocess.params import DEFAULT_PATH, PATHS, GroupingParams  # noqa: E402
from higherhrnet.postprocess import multiscale  # noqa: E402
from higherhrnet.postprocess.memory import keep_freed_memory  # noqa: E402
from higherhrnet.postprocess.stage import run  # noqa: E402
from higherhrnet.preprocess.shapes import parse_scales  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    d = GroupingParams()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", default="1",
                   help="scale factors of the multi-scale test, comma-separated (default 1: "
                        "the one-scale test); then each of the next three flags once per "
                        "scale, in this order")
    p.add_argument("--dump_dir", "--dump-dir", required=True, action="append",
                   help="normal-input outputs folder")
    p.add_argument("--dump_dir_flip", "--dump-dir-flip", required=True, action="append",
                   help="flipped-input outputs folder")
    p.add_argument("--manifest", required=True, action="append",
                   help="preprocess manifest of the shard")
    p.add_argument("--output", required=True, help="results JSON to write")
    p.add_argument("--detection-threshold", "--detection_threshold", type=float,
                   default=d.detection_threshold,
                   help="keep joints with value > this (%(default)s)")
    p.add_argument("--tag-threshold", "--tag_threshold", type=float, default=d.tag_threshold,
                   help="max tag distance to join a person (%(default)s)")
    p.add_argument("--max-people", "--max_people", type=int, default=d.max_people,
                   help="top-k per joint and grouping cap (%(default)s)")
    p.add_argument("--nms-kernel", "--nms_kernel", type=int, default=d.nms_kernel)
    p.add_argument("--nms-padding", "--nms_padding", type=int, default=d.nms_padding)
    p.add_argument("--assignment", choices=sorted(ASSIGNMENTS), default=d.assignment,
                   help="assignment solver: munkres = the reference's tie-breaking (default), "
                        "scipy = linear_sum_assignment (may pick another of equal optima)")
    p.add_argument("--no-adjust", "--no_adjust", action="store_true",
                   help="skip the quarter-pixel adjustment")
    p.add_argument("--no-refine", "--no_refine", action="store_true",
                   help="skip filling missing joints")
    p.add_argument("--keypoints", choices=sorted(KEYPOINT_SETS), default=d.keypoints,
                   help="the model's joints: coco (17, default) or crowdpose (14): the flip "
                        "index, the grouping order and the outputs' channel count")
    p.add_argument("--path", choices=PATHS, default=DEFAULT_PATH,
                   help="fast or reference (default %(default)s): the straight port of the "
                        "reference computation over dense maps (identical results, slow)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        params = GroupingParams(
            detection_threshold=args.detection_threshold, tag_threshold=args.tag_threshold,
            max_people=args.max_people, nms_kernel=args.nms_kernel,
            nms_padding=args.nms_padding, adjust=not args.no_adjust,
            refine=not args.no_refine, assignment=args.assignment,
            keypoints=args.keypoints)
    except ValueError as exc:
        raise WorkflowError(f"postprocess: {exc}") from None
    scales = parse_scales(args.scales)
    if len(scales) == 1 and scales[0] == 1 and len(args.manifest) == 1 and \
            len(args.dump_dir) == 1 and len(args.dump_dir_flip) == 1:
        results = run(args.dump_dir[0], args.dump_dir_flip[0], args.manifest[0], args.output,
                      params, path=args.path)
    else:
        results = multiscale.run(scales, args.dump_dir, args.dump_dir_flip, args.manifest,
                                 args.output, params, path=args.path)
    print(f"postprocess: wrote {len(results)} results to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    keep_freed_memory()  # this process only (not when main() is called from elsewhere)
    cli_main(main)
