#!/usr/bin/env python
"""Stage build_trt_engines: the TensorRT engines of the run configuration, built once.

    python scripts/build_trt_engines.py --onnx higher_hrnet_dynamic.onnx \
        --output results/model/tensorrt_fp16_b8_dynamic/engines.json --precision fp16 \
        --max-batch 8 --profiles dynamic --variant w32_512 --scales 1

ONNX Runtime's TensorRT provider builds one engine set (one dynamic profile, or one profile
per shape of the set ATC compiles) into the folder of --output, with its engine and timing
caches; each shape runs once there and its raw outputs are compared with ONNX Runtime on the
CPU. engines.json (written last) records the provider options, versions, GPU and deviations:
infer.py / benchmark_model.py --trt-engines load these engines instead of building them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import WorkflowError, cli_main  # noqa: E402
from higherhrnet.inference.ascend.cann import add_shape_args, shapes_from_args  # noqa: E402
from higherhrnet.inference.tensorrt_engines import (MANIFEST_NAME, PRECISIONS,  # noqa: E402
                                                    PROFILE_MODES, build_engines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onnx", required=True, help="the exported model (export_onnx)")
    p.add_argument("--output", required=True,
                   help=f"the manifest to write, <engine folder>/{MANIFEST_NAME}")
    add_shape_args(p)
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    p.add_argument("--max-batch", "--max_batch", dest="max_batch", type=int, default=1,
                   help="largest batch the engines take (infer.batch_size)")
    p.add_argument("--profiles", choices=PROFILE_MODES, default="dynamic",
                   help="one dynamic profile over the shape set, or one per shape")
    p.add_argument("--device", type=int, default=None, help="GPU id (default 0)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads of the ONNX Runtime CPU session the outputs are compared with")
    p.add_argument("--no-compare", dest="compare", action="store_false",
                   help="skip the comparison with ONNX Runtime on the CPU")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    if Path(a.output).name != MANIFEST_NAME:
        raise WorkflowError(f"--output {a.output}: name it {MANIFEST_NAME} (its folder holds "
                            "the engines)")
    shapes = shapes_from_args(a)
    m = build_engines(a.onnx, a.output, shapes, a.precision, a.max_batch, a.profiles,
                      a.device, a.threads, a.compare)
    print(f"build_trt_engines: {len(shapes)} shape(s), {len(m['profiles'])} profile(s), "
          f"{a.precision}, batch up to {a.max_batch}: {len(m['engine_files'])} file(s) in "
          f"{m['build_s']:.1f} s; largest deviation from the CPU "
          f"{m['deviation_from_cpu_max']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
