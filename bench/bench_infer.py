#!/usr/bin/env python
"""Benchmark of the infer stage per backend available here (onnxruntime CPU, torch CPU).

Runs the real stage code (:func:`higherhrnet.inference.engine.run_infer`: session start-up, reading
the .npy inputs, forward, writing ais_bench's layout and summary) on random inputs at the
input shapes of the sample set (ascend17 policy), and prints a markdown table: images/s,
per-image latency median and p99, session start-up time, with the machine description.

    python bench/bench_infer.py                       # synthetic weights, sample-set shapes
    python bench/bench_infer.py --weights W.pth --onnx M.onnx --threads 2 --repeat 3
    python bench/bench_infer.py --shapes 64x64 --repeat 1   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from higherhrnet.inference.engine import run_infer  # noqa: E402
from higherhrnet.errors import WorkflowError, cli_main  # noqa: E402
from higherhrnet.preprocess.shapes import input_geometry  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "coco_sample" / "person_keypoints_sample.json"


def sample_shapes(annotations: Path) -> list[tuple[int, int]]:
    images = json.loads(annotations.read_text())["images"]
    return [(g.input_h, g.input_w) for g in
            (input_geometry(im["width"], im["height"], "ascend17") for im in images)]


def parse_shapes(spec: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(v) for v in item.lower().split("x")) for item in spec.split(",")]
    except ValueError:
        raise WorkflowError(f"--shapes {spec!r}: expected HxW[,HxW...]") from None


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for mod in ("onnxruntime", "torch", "numpy"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} logical CPUs, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            + ", ".join(versions))


def prepare_model(args, tmp: Path) -> tuple[Path, Path]:
    weights = Path(args.weights) if args.weights else None
    if weights is None:
        from higherhrnet.model.synthetic_weights import write_synthetic_weights

        weights = write_synthetic_weights(tmp / "weights")
    onnx = Path(args.onnx) if args.onnx else None
    if onnx is None and "onnxruntime" in args.backends:
        from higherhrnet.model.checkpoint import load_model
        from higherhrnet.model.export import export_onnx

        t0 = time.perf_counter()
        onnx = export_onnx(load_model(weights), tmp / "model.onnx", opset=11)
        print(f"exported {onnx} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return weights, onnx


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", help=".pth (default: synthetic weights, written to a temp dir)")
    p.add_argument("--onnx", help=".onnx (default: exported from --weights)")
    p.add_argument("--backends", default="onnxruntime,torch")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--shapes", help="HxW[,HxW...] instead of the sample set's input shapes")
    p.add_argument("--annotations", type=Path, default=SAMPLE,
                   help="COCO json whose images give the shapes (default: the sample set)")
    p.add_argument("--repeat", type=int, default=2, help="passes over the shape list")
    args = p.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    shapes = parse_shapes(args.shapes) if args.shapes else sample_shapes(args.annotations)
    shapes = shapes * args.repeat
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_infer_") as tmp_name:
        tmp = Path(tmp_name)
        weights, onnx = prepare_model(args, tmp)
        rng = np.random.default_rng(0)
        prep = tmp / "prep"
        prep.mkdir()
        for i, (h, w) in enumerate(shapes):
            np.save(prep / f"{i:012d}.npy", rng.standard_normal((1, 3, h, w), dtype=np.float32))
        for backend in args.backends:
            model = onnx if backend == "onnxruntime" else weights
            t0 = time.perf_counter()
            s = run_infer(backend, model, prep, tmp / "out", backend, threads=args.threads,
                          batch_size=args.batch_size, argv=sys.argv, progress=True)
            total = time.perf_counter() - t0
            lat = s["sample_latency"]
            rows.append((backend, s["device"], s["threads"], args.batch_size, s["num_inputs"],
                         s["session_startup_s"], s["images_per_s"], s["num_inputs"] / total,
                         lat["median"], lat["percentile(99%)"]))
    counts: dict[tuple[int, int], int] = {}
    for hw in shapes:
        counts[hw] = counts.get(hw, 0) + 1
    print(f"\nMachine: {machine()}")
    print("Input shapes (HxW: count): "
          + ", ".join(f"{h}x{w}: {n}" for (h, w), n in sorted(counts.items())))
    print("\n| backend | device | threads | batch | images | session start-up (s) | "
          "images/s | images/s incl. start-up | latency median (ms) | latency p99 (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.2f} | {r[6]:.2f} | "
              f"{r[7]:.2f} | {r[8]:.0f} | {r[9]:.0f} |")
    print("\nimages/s: stage wall time after the session is up (read .npy, forward, write "
          "outputs); latency: forward per image (batch time / batch size).")
    return 0


if __name__ == "__main__":
    cli_main(main)
