#!/usr/bin/env python
"""The GPU measurements of issue 24 in one run, for a machine with an NVIDIA GPU.

    python bench/bench_gpu.py --out gpu_results [--quick] [--skip-trt] [--skip-torch]

Per available path (TensorRT through onnxruntime-gpu when its provider is there; torch on
CUDA always), for fp32 and fp16:

1. build the TensorRT engines of the 17 W32-512 shapes twice (the second build's session
   must load, not build: ``engines.json`` ``session_startup_s`` of both, and whether the
   engine files changed), with synthetic weights;
2. ``benchmark_model`` per shape at batch 1 and at the batch sizes given (images/s, latency);
3. raw outputs of ``infer`` on generated tensors of every shape against ONNX Runtime on the
   CPU (largest absolute deviation per output; fp32 is held to 1e-4);

and writes ``<out>/gpu_results.json`` plus a markdown table ``<out>/gpu_results.md`` for
BENCHMARKS.md. Everything runs through the stage CLIs the workflow runs (scripts/*.py), so the
numbers are the workflow's. The whole-workflow run per image on the GPU node is
``bench/bench_workflow.py`` with ``--config infer={onnxruntime_provider: tensorrt}`` (needs
snakemake there).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from higherhrnet.preprocess.shapes import ASCEND_SHAPES  # noqa: E402

GUIDE_T4 = 27.0


def run(args: list, log: Path) -> float:
    """One stage CLI; its stderr goes to ``log``; wall seconds."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, stderr=fh,
                              stdout=fh, check=False)
    if proc.returncode:
        print(f"failed ({proc.returncode}): {' '.join(map(str, args))}; see {log}",
              file=sys.stderr)
        return -1.0
    return time.perf_counter() - t0


def trt_available() -> bool:
    try:
        import onnxruntime
    except ImportError:
        return False
    return "TensorrtExecutionProvider" in onnxruntime.get_available_providers()


def torch_cuda() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def model_files(out: Path) -> tuple[Path, Path]:
    """Synthetic weights and their ONNX export (the workflow's own stages)."""
    pth, onnx = out / "synthetic.pth", out / "higher_hrnet_dynamic.onnx"
    if not pth.exists():
        run(["scripts/make_synthetic_weights.py", "--output", pth], out / "weights.log")
    if not onnx.exists():
        run(["scripts/export_onnx.py", "--weights", pth, "--onnx-path", onnx],
            out / "export.log")
    return pth, onnx


def tensors(folder: Path, shapes, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(shapes):
        np.save(folder / f"{i:012d}.npy", rng.standard_normal((1, 3, h, w), dtype=np.float32))
    return folder


def deviation(a_dir: Path, b_dir: Path) -> dict:
    worst = {"output1": 0.0, "output2": 0.0}
    for f in sorted(a_dir.glob("*_0.npy")) + sorted(a_dir.glob("*_1.npy")):
        key = "output1" if f.stem.endswith("_0") else "output2"
        d = float(np.max(np.abs(np.load(f).astype(np.float64)
                                - np.load(b_dir / f.name).astype(np.float64))))
        worst[key] = max(worst[key], d)
    return worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="gpu_results")
    p.add_argument("--batch-sizes", default="1,8,32")
    p.add_argument("--loops", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="4 shapes, 5 loops")
    p.add_argument("--skip-trt", action="store_true")
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--torch-providers", default="cuda",
                   help="cpu: try this script's flow on a machine without a GPU")
    a = p.parse_args()
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    shapes = list(ASCEND_SHAPES[::4]) if a.quick else list(ASCEND_SHAPES)
    loops = 5 if a.quick else a.loops
    shape_args = [f"{h}x{w}" for h, w in shapes]
    max_batch = max(int(b) for b in a.batch_sizes.split(","))
    result = {"gpu": torch_cuda(), "python": platform.python_version(), "runs": []}
    pth, onnx = model_files(out)
    inputs = tensors(out / "inputs", shapes)
    cpu = out / "cpu"
    run(["scripts/infer.py", "--model", onnx, "--input", inputs, "--output", cpu,
         "--output-dirname", "out", "--quiet"], out / "infer_cpu.log")
    paths = []
    if trt_available() and not a.skip_trt:
        paths.append("tensorrt")
    if (result["gpu"] or a.torch_providers == "cpu") and not a.skip_torch:
        paths.append("torch")
    for path in paths:
        for precision in ("fp32", "fp16"):
            tag = f"{path}_{precision}"
            entry: dict = {"path": path, "precision": precision}
            if path == "tensorrt":
                manifest = out / f"tensorrt_{precision}_b{max_batch}" / "engines.json"
                build = ["scripts/build_trt_engines.py", "--onnx", onnx, "--output", manifest,
                         "--precision", precision, "--max-batch", max_batch]
                entry["build_s"] = run(build, out / f"{tag}_build1.log")
                first = json.loads(manifest.read_text()) if manifest.exists() else {}
                # the jobs' view: a second session with the manifest loads the engines
                engine = ["--backend", "onnxruntime", "--model", onnx, "--providers",
                          "tensorrt", "--precision", precision, "--trt-engines", manifest]
                entry["engines_first_build_s"] = first.get("build_s")
                entry["deviation_from_cpu_build"] = first.get("deviation_from_cpu_max")
            else:
                engine = ["--backend", "torch", "--model", pth, "--providers", a.torch_providers,
                          "--precision", precision]
            bench_json = out / f"{tag}_benchmark.json"
            entry["benchmark_s"] = run(
                ["scripts/benchmark_model.py", *engine, "--shapes", *shape_args, "--loops",
                 loops, "--warmup", 3, "--batch-sizes", a.batch_sizes, "--output", bench_json,
                 "--html", out / f"{tag}_benchmark.html"], out / f"{tag}_benchmark.log")
            if bench_json.exists():
                bench = json.loads(bench_json.read_text())
                entry["shapes"] = bench["shapes"]
                entry["trt_engines_reused"] = bench.get("trt_engines_reused")
                entry["session_startup_s"] = bench.get("session_startup_s")
            infer_out = out / tag
            entry["infer_s"] = run(["scripts/infer.py", *engine, "--input", inputs,
                                    "--output", infer_out, "--output-dirname", "out",
                                    "--quiet"], out / f"{tag}_infer.log")
            if (infer_out / "out").is_dir():
                entry["deviation_from_cpu"] = deviation(infer_out / "out", cpu / "out")
                summary = json.loads((infer_out / "out_summary.json").read_text())
                entry["infer_summary"] = {k: summary.get(k) for k in (
                    "session_startup_s", "trt_engines_reused", "images_per_s",
                    "fp16_deviation_first_batch", "deviation_from_cpu")}
            result["runs"].append(entry)
            (out / "gpu_results.json").write_text(json.dumps(result, indent=1))
    lines = [f"GPU: {result['gpu']}; T4 anchor (guide, trtexec --fp16, batch 1): "
             f"{GUIDE_T4:.0f} images/s average", "",
             "| path | precision | shape | batch | images/s | latency mean ms |",
             "|---|---|---|---|---|---|"]
    for e in result["runs"]:
        for r in e.get("shapes", []):
            lines.append(f"| {e['path']} | {e['precision']} | {r['height']}x{r['width']} | "
                         f"{r['batch']} | {r['throughput']:.1f} | {r['latency_mean_ms']:.2f} |")
        lines.append(f"| {e['path']} | {e['precision']} | deviation from ORT CPU | | "
                     f"{e.get('deviation_from_cpu')} | |")
    (out / "gpu_results.md").write_text("\n".join(lines) + "\n")
    (out / "gpu_results.json").write_text(json.dumps(result, indent=1))
    print("\n".join(lines))
    return 0 if paths else 1


if __name__ == "__main__":
    sys.exit(main())
