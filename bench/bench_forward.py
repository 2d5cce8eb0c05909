"""Forward time per image on CPU: PyTorch eager vs ONNX Runtime, plus the ONNX export time.

    python bench/bench_forward.py [--threads 2] [--runs 5] [--warmup 2] \
        [--shapes 512x512,512x768] [--weights X.pth] [--onnx Y.onnx]

Rows (median of --runs timed runs after --warmup untimed ones, batch 1, random input):

- ``torch``: eager forward under ``torch.no_grad()`` with ``torch.set_num_threads(threads)``;
- ``ort workflow``: the session the infer stage uses (``inference.engine.create_engine``,
  intra-op ``threads``, inter-op 1, sequential);
- ``ort default``: a plain ``onnxruntime.InferenceSession(path)`` with default options, the
  baseline: the workflow session should not be more than 10% slower.

Without --weights the synthetic weights are used (timings do not depend on the values);
without --onnx the model is exported to a temporary folder and the export is timed.
Prints a markdown table on stdout. Reference (quiet 2-core machine, REFERENCE_PIPELINE.md
section 11): torch 0.554 s / ORT 0.318 s at 512x512, 0.773 s / 0.470 s at 512x768.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from higherhrnet.model.checkpoint import load_model, load_weights  # noqa: E402
from higherhrnet.model.export import parse_shapes, timed_export  # noqa: E402
from higherhrnet.model.network import build_model  # noqa: E402
from higherhrnet.model.synthetic_weights import synthetic_state_dict  # noqa: E402


def median_time(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def workflow_session(onnx_path: Path, threads: int):
    """The infer stage's session when the backends package is there, else export's own."""
    try:
        from higherhrnet.inference.engine import create_engine
    except ImportError:
        from higherhrnet.model.export import ort_session

        return ort_session(onnx_path, threads), "export.ort_session"
    return create_engine("onnxruntime", onnx_path, threads=threads).session, "inference.engine.create_engine"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch and ORT intra-op threads")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--shapes", default="512x512,512x768", help="HxW[,HxW...]")
    parser.add_argument("--weights", help=".pth (default: synthetic weights)")
    parser.add_argument("--onnx", help="existing .onnx (default: export now and time it)")
    parser.add_argument("--opset", type=int, default=11)
    args = parser.parse_args(argv)
    shapes = parse_shapes(args.shapes)

    torch.set_num_threads(args.threads)
    model = load_model(args.weights) if args.weights else load_weights(
        build_model(), synthetic_state_dict(), "synthetic weights")

    with tempfile.TemporaryDirectory() as tmp:
        export_s = None
        onnx_path = Path(args.onnx) if args.onnx else Path(tmp) / "bench.onnx"
        if not args.onnx:
            export_s = timed_export(model, onnx_path, args.opset)
        start = time.perf_counter()
        tuned, tuned_name = workflow_session(onnx_path, args.threads)
        tuned_startup = time.perf_counter() - start
        start = time.perf_counter()
        plain = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        plain_startup = time.perf_counter() - start

        rows = []
        for h, w in shapes:
            x = np.random.default_rng(0).standard_normal((1, 3, h, w)).astype(np.float32)
            tx = torch.from_numpy(x)

            def run_torch():
                with torch.no_grad():
                    model(tx)

            timings = {
                "torch": median_time(run_torch, args.runs, args.warmup),
                "ort workflow": median_time(lambda: tuned.run(None, {"input": x}),
                                            args.runs, args.warmup),
                "ort default": median_time(lambda: plain.run(None, {"input": x}),
                                           args.runs, args.warmup),
            }
            rows.append((f"1x3x{h}x{w}", timings))
            print(f"[bench] {h}x{w}: " + ", ".join(f"{k} {v:.3f} s" for k, v in timings.items()),
                  file=sys.stderr)

    print(f"CPU: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}; "
          f"torch {torch.__version__} (set_num_threads={args.threads}, "
          f"get_num_threads={torch.get_num_threads()}); onnxruntime {ort.__version__} "
          f"(workflow session = {tuned_name}, intra_op_num_threads={args.threads}; default "
          f"session = InferenceSession(path), ORT picks its threads); median of {args.runs} "
          f"runs after {args.warmup} warm-up, batch 1, opset {args.opset}\n")
    print("| input | PyTorch eager (s) | ORT workflow session (s) | ORT default session (s) "
          "| workflow / default |")
    print("|---|---|---|---|---|")
    for shape, t in rows:
        ratio = t["ort workflow"] / t["ort default"]
        flag = " (>10% slower)" if ratio > 1.10 else ""
        print(f"| {shape} | {t['torch']:.3f} | {t['ort workflow']:.3f} | {t['ort default']:.3f} "
              f"| {ratio:.2f}{flag} |")
    print()
    if export_s is not None:
        print(f"ONNX export (legacy exporter, opset {args.opset}, incl. onnx.checker): "
              f"{export_s:.1f} s")
    print(f"session creation: workflow {tuned_startup:.2f} s, default {plain_startup:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
