#!/usr/bin/env python
"""Infer stage: run the network on every <stem>.npy of a folder, write ais_bench's layout.

    python scripts/infer.py --backend onnxruntime --model M.onnx --input prep_dir \
        --output out --output-dirname output_dir [--threads N] [--batch-size N]

Writes <output>/<dirname>/<stem>_0.npy (output1), <stem>_1.npy (output2) and
<output>/<dirname>_summary.json, whatever the backend (onnxruntime: .onnx; torch: .pth;
ascend: .om via `python3 -m ais_bench`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.atomic import write_text  # noqa: E402
from higherhrnet.inference.devices import device_kind, job_device  # noqa: E402
from higherhrnet.inference.engine import BACKENDS, run_infer  # noqa: E402
from higherhrnet.inference.ascend.cann import DEFAULT_CANN_ENV  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.preprocess.shapes import parse_scales  # noqa: E402
from higherhrnet.threads import declared_threads, stage_threads  # noqa: E402
from higherhrnet.preprocess.manifest import Manifest  # noqa: E402
from higherhrnet.model.variants import DEFAULT_VARIANT, VARIANTS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=list(BACKENDS), default="onnxruntime",
                   help="inference engine (default onnxruntime)")
    p.add_argument("--model", required=True,
                   help=".onnx (onnxruntime), .pth (torch) or .om (ascend)")
    p.add_argument("--input", required=True, help="folder of <stem>.npy float32 [1,3,H,W]")
    p.add_argument("--output", required=True, help="output root folder")
    p.add_argument("--output-dirname", "--output_dirname", dest="output_dirname", required=True,
                   help="outputs go to <output>/<dirname>/, summary to <output>/<dirname>_summary.json")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (onnxruntime, torch); default: the engine's")
    p.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, default=1,
                   help="batch equal-shape inputs (onnxruntime, torch); default 1")
    p.add_argument("--providers", "--accelerator", dest="providers", default="cpu",
                   choices=("cpu", "cuda", "tensorrt"),
                   help="onnxruntime execution provider / torch device type (default cpu)")
    p.add_argument("--device", type=int, default=None,
                   help="GPU id, or NPU logical index within ASCEND_RT_VISIBLE_DEVICES "
                        "(default 0)")
    p.add_argument("--devices", default=None,
                   help="NPUs (ascend) or GPUs (cuda, tensorrt) this job may run on, "
                        "comma-separated logical indices (e.g. 0,1): it takes one that no "
                        "other job holds for its whole run (default: --device)")
    p.add_argument("--log", default=None,
                   help="log file (ascend: ais_bench's output; default "
                        "<output>/<dirname>.ais_bench.log)")
    p.add_argument("--cann-env", "--cann_env", dest="cann_env", default=DEFAULT_CANN_ENV,
                   help="ascend: CANN set_env.sh sourced before ais_bench ('' = none); "
                        f"default {DEFAULT_CANN_ENV}")
    p.add_argument("--python", default="python3",
                   help="ascend: interpreter that runs `-m ais_bench` (default python3)")
    p.add_argument("--allow-empty", "--allow_empty", dest="allow_empty", action="store_true",
                   help="an input folder without tensors gives empty outputs instead of an "
                        "error (the workflow's empty shards)")
    p.add_argument("--manifest", default=None,
                   help="preprocess manifest of the input folder: refuse a folder whose tensors "
                        "are not exactly the manifest's (the workflow passes it)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT,
                   help="torch: the network the .pth is for; ascend: with --scales, the "
                        "shapes the .om is compiled for (default %(default)s)")
    p.add_argument("--scales", default="1",
                   help="ascend: the test's scale factors, comma-separated (default 1)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="fp16: TensorRT's fp16 kernels (--providers tensorrt) or torch CUDA "
                        "autocast; default fp32")
    p.add_argument("--trt-engines", "--trt_engines", dest="trt_engines", default=None,
                   help="--providers tensorrt: the engines.json of build_trt_engines.py; the "
                        "session loads those engines instead of building its own")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # --threads, else the rule's (Snakemake's OMP_NUM_THREADS), else the engine's default
    threads = args.threads or declared_threads(None)
    if args.threads and args.threads != declared_threads():
        stage_threads(args.threads)  # cli_main set the declared count
    cmd = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    if args.manifest:
        Manifest.read(args.manifest).check_tensors(args.input, args.manifest)
    kind = device_kind(BACKENDS[args.backend].npu, args.providers)
    with job_device(kind, args.devices, args.device) as device:
        summary = run_infer(
            args.backend, args.model, args.input, args.output, args.output_dirname,
            threads=threads, batch_size=args.batch_size, providers=args.providers,
            device=device.index if device and args.devices else args.device, log=args.log,
            cann_env=args.cann_env or None, python=args.python, argv=cmd,
            progress=not args.quiet, allow_empty=args.allow_empty, variant=args.variant,
            scales=parse_scales(args.scales), precision=args.precision,
            engines=args.trt_engines)
    # an in-process engine's log; a tool's (ais_bench) is its own output
    if args.log and BACKENDS[args.backend].open and summary["num_inputs"]:
        t = summary["NPU_compute_time"]
        write_text(args.log, f"# command: {shlex.join(cmd)}\n"
                   f"backend {summary['backend']} device {summary['device']} threads "
                   f"{summary['threads']} batch size {summary['batch_size']}\n"
                   f"session start-up {summary['session_startup_s']:.3f} s, "
                   f"{summary['num_inputs']} input(s) in {summary['wall_time_s']:.2f} s "
                   f"({summary['images_per_s']:.2f} images/s)\n"
                   f"compute per call (ms): median {t['median']:.1f} "
                   f"p99 {t['percentile(99%)']:.1f} max {t['max']:.1f}\n")
    return 0


if __name__ == "__main__":
    cli_main(main)
