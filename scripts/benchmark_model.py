#!/usr/bin/env python
"""Benchmark stage: throughput (images/s) and latency of the model per compiled input shape.

    python scripts/benchmark_model.py --backend onnxruntime --model M.onnx \
        --shapes 512x512 512x768 --loops 20 --warmup 2 --output bench.json --html bench.html

On Ascend it runs `python3 -m ais_bench --loop N --warmup_count W` per shape (inputs and
ais_bench outputs under --workdir); elsewhere the infer stage's in-process engine.

With --manifests (the run's preprocess manifests) and no --shapes it measures the shapes the
run's images use, most frequent first, within --share of the run's inferences, and reports
the run's expected inference time (higherhrnet.inference.benchmark.plan_runs).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.inference.devices import device_kind, job_device  # noqa: E402
from higherhrnet.inference.engine import BACKENDS, backend  # noqa: E402
from higherhrnet.inference.ascend.cann import (DEFAULT_CANN_ENV, add_shape_args,  # noqa: E402
                                              shapes_from_args)
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.inference.benchmark import (benchmark, dataset_shapes,  # noqa: E402
                                             parse_batch_sizes, parse_shapes, plan_runs, write)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=list(BACKENDS), default="onnxruntime")
    p.add_argument("--model", required=True, help=".onnx, .pth (torch) or .om (ascend)")
    p.add_argument("--shapes", nargs="*", default=[],
                   help="HxW shapes to measure (default: every compiled shape, 17 for "
                        "W32-512 at one scale; see --variant, --scales)")
    add_shape_args(p)
    p.add_argument("--manifests", nargs="*", default=[],
                   help="the run's preprocess manifests: measure the shapes its images use "
                        "(when no --shapes) and give the run's expected inference time")
    p.add_argument("--share", type=float, default=0.05,
                   help="with --manifests and no --shapes: all runs (warm-up included) at most "
                        "this share of the run's inferences; the most frequent shape is "
                        "always measured (%(default)s)")
    p.add_argument("--loops", type=int, default=20, help="timed runs per shape (at most)")
    p.add_argument("--warmup", type=int, default=2, help="uncounted runs per shape first "
                   "(at most)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime/torch threads")
    p.add_argument("--providers", default="cpu", choices=("cpu", "cuda", "tensorrt"))
    p.add_argument("--device", type=int, default=None, help="GPU id, or NPU logical index")
    p.add_argument("--devices", default=None,
                   help="NPUs/GPUs to measure on, comma-separated logical indices: it takes "
                        "one that no other job holds (default: --device)")
    p.add_argument("--cann-env", "--cann_env", dest="cann_env", default=DEFAULT_CANN_ENV,
                   help="ascend: CANN set_env.sh sourced first ('' = none)")
    p.add_argument("--python", default="python3", help="ascend: runs `-m ais_bench`")
    p.add_argument("--workdir", default=None,
                   help="ascend: folder for the per-shape input and ais_bench outputs "
                        "(removed afterwards when this run created it)")
    p.add_argument("--batch-sizes", "--batch_sizes", dest="batch_sizes", default="1",
                   help="onnxruntime/torch: batch sizes measured per shape, comma-separated "
                        "(default 1)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="fp16: TensorRT fp16 or torch CUDA autocast")
    p.add_argument("--trt-engines", "--trt_engines", dest="trt_engines", default=None,
                   help="--providers tensorrt: the engines.json of build_trt_engines.py")
    p.add_argument("--output", required=True, help="results json")
    p.add_argument("--html", required=True, help="table for the report")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    workdir = Path(a.workdir or str(Path(a.output).with_suffix("")) + "_ais_bench")
    ours = not workdir.exists()
    # the .om holds only its compiled shapes; ONNX Runtime and torch take any
    compiled, any_shape = shapes_from_args(a), not backend(a.backend).compiled_shapes
    dataset = dataset_shapes(a.manifests) if a.manifests else None
    plan = None
    if dataset and not a.shapes:
        plan = plan_runs(dataset, a.loops, a.warmup, a.share)
        parse_shapes([f"{h}x{w}" for h, w in (p["shape"] for p in plan)], compiled,
                     any_shape=any_shape)  # the .om holds only its compiled shapes
        print(f"benchmark_model: {len(plan)} of the run's {len(dataset)} shape(s) measured "
              f"within {a.share:g} of its {sum(n for _, n in dataset)} inferences",
              file=sys.stderr)
    # the .om holds only its compiled shapes; ONNX Runtime and torch take any
    shapes = parse_shapes(a.shapes, compiled, any_shape=any_shape) if plan is None else []
    kind = device_kind(backend(a.backend).npu, a.providers)
    with job_device(kind, a.devices, a.device) as device:
        result = benchmark(a.backend, a.model, shapes, a.loops, a.warmup, workdir,
                           threads=a.threads, providers=a.providers,
                           device=device.index if device and a.devices else a.device,
                           cann_env=a.cann_env or None, python=a.python, plan=plan,
                           dataset=dataset, precision=a.precision, engines=a.trt_engines,
                           batch_sizes=parse_batch_sizes(a.batch_sizes), variant=a.variant)
    write(result, a.output, a.html)
    if ours and workdir.exists():  # ais_bench's inputs/outputs: only the summaries mattered
        shutil.rmtree(workdir)
    for r in result["shapes"]:
        print(f"benchmark_model: {r['height']}x{r['width']} batch {r.get('batch', 1)}: "
              f"{r['throughput']:.2f} images/s, "
              f"mean {r['latency_mean_ms']:.1f} ms ({r['count']} runs)", file=sys.stderr)
    if dataset:
        print(f"benchmark_model: expected inference time of the run "
              f"{result['expected_inference_s']:.1f} s for {result['inferences']} inferences",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
