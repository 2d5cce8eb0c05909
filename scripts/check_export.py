"""Compare an exported ONNX model (ONNX Runtime, CPU) with PyTorch on the Ascend shapes.

    python scripts/check_export.py --weights X.pth --onnx Y.onnx [--shapes ascend17] \
        --report export_check.json

Writes a per-shape max |difference| report (JSON) and exits 2 when any shape differs
beyond --atol/--rtol (default 1e-4 each).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.atomic import write_json  # noqa: E402
from higherhrnet.model.checkpoint import load_model  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.model.export import ExportMismatch, check_export, parse_shapes  # noqa: E402
from higherhrnet.model.variants import DEFAULT_VARIANT, VARIANTS  # noqa: E402
from higherhrnet.preprocess.shapes import shape_set  # noqa: E402
from higherhrnet.model.synthetic_weights import is_synthetic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="the .pth the ONNX was exported from")
    parser.add_argument("--onnx", "--onnx-path", "--onnx_path", dest="onnx", required=True)
    parser.add_argument("--shapes", default="ascend17",
                        help="'ascend17' (default: the ATC shapes of the variant, 17 for "
                        "w32_512) or HxW[,HxW...]")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT)
    parser.add_argument("--report", help="write the JSON report here")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="allow a checkpoint that pickles non-tensor Python objects")
    args = parser.parse_args(argv)
    variant = VARIANTS[args.variant]
    shapes = parse_shapes(args.shapes, shape_set(variant.input_size))
    model = load_model(args.weights, trusted=args.trust_checkpoint, variant=variant.name)
    failure = None
    try:
        report = check_export(args.onnx, model, shapes, args.atol, args.rtol, progress=True)
    except ExportMismatch as exc:
        report, failure = exc.report, exc
    if args.report:
        report["weights"] = str(args.weights)
        report["synthetic_weights"] = is_synthetic(model.state_dict())
        write_json(args.report, report)
    if failure is not None:
        raise failure
    print(f"ONNX matches PyTorch on {len(shapes)} shapes "
          f"(atol {args.atol}, rtol {args.rtol})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
