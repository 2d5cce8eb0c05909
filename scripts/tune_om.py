#!/usr/bin/env python
"""AOE stage (Ascend only, optional): ONNX -> AOE-tuned .om for the shape policy's 17 shapes.

    python scripts/tune_om.py --onnx model.onnx --output results/model/higher_hrnet_aoe \
        --mode both --log logs/model/tune_om.log

runs, after sourcing the CANN set_env.sh, `aoe --framework=5 --model=... --job_type=1`
(subgraph tuning) and/or `--job_type=2` (operator tuning) with ATC's shape options, and
writes <output>.om (renamed from <output>_<os>_<arch>.om when AOE adds the suffix). Each
tuning run's time goes to the log. Tuning needs the NPU and takes long (tens of minutes+).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.inference.ascend.cann import (DEFAULT_CANN_ENV, add_shape_args,  # noqa: E402
                                              shapes_from_args)
from higherhrnet.inference.ascend.compile import AOE_JOB_TYPES, tune_om  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.preprocess.shapes import SHAPE_POLICIES  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onnx", "--onnx-path", "--onnx_path", dest="onnx", required=True)
    p.add_argument("--output", required=True, help="output prefix: writes <output>.om")
    p.add_argument("--mode", required=True, choices=[m for m in AOE_JOB_TYPES if m != "off"],
                   help="subgraph (--job_type=1), operator (--job_type=2) or both")
    p.add_argument("--shape-policy", "--shape_policy", dest="shape_policy", default="ascend17",
                   choices=SHAPE_POLICIES)
    p.add_argument("--cann-env", "--cann_env", dest="cann_env", default=DEFAULT_CANN_ENV,
                   help=f"CANN set_env.sh sourced first ('' = none); default {DEFAULT_CANN_ENV}")
    p.add_argument("--extra-args", "--extra_args", dest="extra_args", default="",
                   help="further AOE flags as one string (write it with =)")
    add_shape_args(p)
    p.add_argument("--log", required=True, help="log: time per tuning run (AOE's own output "
                   "goes to <log stem>.subgraph.log / .operator.log beside it)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    tune_om(a.onnx, a.output, a.mode, a.log, shape_policy=a.shape_policy,
            extra_args=shlex.split(a.extra_args), cann_env=a.cann_env or None,
            shapes=shapes_from_args(a))
    return 0


if __name__ == "__main__":
    cli_main(main)
