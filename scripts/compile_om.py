#!/usr/bin/env python
"""Compile stage (Ascend only): ONNX -> .om with ATC for the shape policy's input shapes.

    python scripts/compile_om.py --onnx model.onnx --output results/model/higher_hrnet \
        --soc-version Ascend310P3 --log logs/atc.log [--variant w48_640 --scales 2,1,0.5]

runs, after sourcing the CANN set_env.sh, the guide's
`atc --framework=5 --model=... --output=PREFIX --input_format=ND
--input_shape="input:1,3,-1,-1" --dynamic_dims="..." --soc_version=...` and writes PREFIX.om.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.inference.ascend.cann import (DEFAULT_CANN_ENV, add_shape_args,  # noqa: E402
                                              shapes_from_args)
from higherhrnet.inference.ascend.compile import compile_om  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.preprocess.shapes import SHAPE_POLICIES  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onnx", "--onnx-path", "--onnx_path", dest="onnx", required=True,
                   help="exported ONNX model (input 'input', outputs 'output1', 'output2')")
    p.add_argument("--output", required=True, help="output prefix: writes <output>.om")
    p.add_argument("--soc-version", "--soc_version", dest="soc_version", required=True,
                   help="Ascend chip, e.g. Ascend310P3 (see `npu-smi info`)")
    p.add_argument("--shape-policy", "--shape_policy", dest="shape_policy", default="ascend17",
                   choices=SHAPE_POLICIES, help="input shapes to compile (ascend17)")
    p.add_argument("--cann-env", "--cann_env", dest="cann_env", default=DEFAULT_CANN_ENV,
                   help=f"CANN set_env.sh sourced first ('' = none); default {DEFAULT_CANN_ENV}")
    p.add_argument("--precision-mode", "--precision_mode", dest="precision_mode", default=None,
                   help="ATC --precision_mode (e.g. force_fp16, allow_fp32_to_fp16, "
                        "must_keep_origin_dtype); default: ATC's own")
    p.add_argument("--extra-args", "--extra_args", dest="extra_args", default="",
                   help="further ATC flags as one string, split like a shell would; "
                        "write it with = (--extra-args=\"--log=error ...\") since it "
                        "starts with --")
    add_shape_args(p)
    p.add_argument("--log", required=True, help="ATC log file")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    compile_om(args.onnx, args.output, args.soc_version, args.log,
               shape_policy=args.shape_policy, precision_mode=args.precision_mode,
               extra_args=shlex.split(args.extra_args), cann_env=args.cann_env or None,
            shapes=shapes_from_args(args))
    return 0


if __name__ == "__main__":
    cli_main(main)
