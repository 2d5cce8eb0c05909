"""Stage export_onnx: HigherHRNet .pth -> ONNX (the guide's HigherHRNet_pth2onnx.py).

    python scripts/export_onnx.py --weights pose_higher_hrnet_w32_512.pth \
        --onnx-path pose_higher_hrnet_w32_512_bs1_dynamic.onnx [--opset 11] \
        [--variant w32_512|w32_640|w48_640]

The weights must have the variant's layout (an error names both layouts otherwise).

Input ``input`` [N,3,H,W] (N, H, W dynamic); outputs ``output1`` [N,34,H/4,W/4] and
``output2`` [N,17,H/2,W/2]. The file is checked with onnx.checker and written atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.model.checkpoint import load_model  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.model.export import DEFAULT_ONNX_NAME, DEFAULT_OPSET, timed_export  # noqa: E402
from higherhrnet.model.variants import DEFAULT_VARIANT, VARIANTS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="checkpoint .pth (plain state dict "
                        "or training checkpoint with 'state_dict')")
    parser.add_argument("--onnx-path", "--onnx_path", dest="onnx_path", default=DEFAULT_ONNX_NAME,
                        help=f"output .onnx (default {DEFAULT_ONNX_NAME})")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="allow a checkpoint that pickles non-tensor Python objects "
                        "(torch.load weights_only=False; only for files from a trusted source)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT,
                        help="the network: w32_512 (the guide's), w32_640 or w48_640 "
                        "(default %(default)s)")
    args = parser.parse_args(argv)
    variant = VARIANTS[args.variant]
    model = load_model(args.weights, trusted=args.trust_checkpoint, variant=variant.name)
    seconds = timed_export(model, args.onnx_path, args.opset, variant.input_size)
    print(f"exported {variant.title} {args.weights} -> {args.onnx_path} (opset {args.opset}) "
          f"in {seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
