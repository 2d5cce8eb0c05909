"""End-to-end workflow benchmark: wall time per image with --cores 2, and peak disk.

Runs the real Snakemake DAG on a generated synthetic set (default 36 images, synthetic
weights) in a scratch folder, twice-removed from the timing of the one-off stages:

  1. a warm-up run builds the dataset, the synthetic weights and the ONNX export;
  2. the timed run re-runs everything downstream of the model (preprocess, both inference
     runs, postprocess, gather, evaluate, report pieces) by forcing the preprocess rules.

It samples the scratch folder's size every 0.2 s for the peak disk, and compares the time
per image with two ONNX Runtime forward passes per image at the same input shapes (measured
here with a plain InferenceSession, 2 threads).

    python bench/bench_workflow.py [--images 36] [--shards 4] [--cores 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from higherhrnet.workflow.disk import folder_bytes  # noqa: E402


class DiskSampler(threading.Thread):
    def __init__(self, path: Path, every: float = 0.2):
        super().__init__(daemon=True)
        self.path, self.every, self.peak, self._halt = path, every, 0, threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.peak = max(self.peak, folder_bytes([self.path]))
            time.sleep(self.every)

    def stop(self):
        self._halt.set()
        self.join()


# tests/configs/synthetic.yaml keeps the tests short (postprocess max_people 5, no
# benchmark_model); the benchmarks measure the defaults, as recorded in BENCHMARKS.md
BENCH_CONFIG = ["postprocess={max_people: 30}", "benchmark_model={enabled: true}"]


def snakemake(work: Path, config: list[str], cores: int, *extra: str) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(work), "--configfile", str(ROOT / "tests/configs/synthetic.yaml"),
           "--cores", str(cores), "--quiet", "all", *extra, "--config",
           *BENCH_CONFIG, *config]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - t0


def forward_seconds(onnx: Path, prep_dirs: list[Path], threads: int = 2) -> float:
    """Sum over images of one plain-InferenceSession forward (median of 3 per shape)."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    per_shape: dict[tuple, float] = {}
    total = 0.0
    for d in prep_dirs:
        for f in sorted(d.glob("*.npy")):
            x = np.load(f)
            if x.shape not in per_shape:
                sess.run(None, {"input": x})
                runs = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    sess.run(None, {"input": x})
                    runs.append(time.perf_counter() - t0)
                per_shape[x.shape] = statistics.median(runs)
            total += per_shape[x.shape]
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=36)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args(argv)
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_workflow_"))
    work.mkdir(parents=True, exist_ok=True)
    config = [f"dataset={{name: synthetic, synthetic_images: {a.images}}}", f"shards={a.shards}",
              "keep_intermediates=False"]
    warm = snakemake(work, config, a.cores, "--until", "export_onnx", "make_synthetic_dataset")
    warm_benchmarks = set((work / "benchmarks").rglob("*.tsv"))  # not part of the timed run
    sampler = DiskSampler(work)
    sampler.start()
    base = folder_bytes([work])
    wall = snakemake(work, config, a.cores)
    sampler.stop()
    # forward baseline on the same tensors (kept in a separate folder, outside the timing)
    keep = work / "fwd"
    if not keep.exists():
        snakemake(keep, config + ["keep_intermediates=True"], a.cores, "--until", "preprocess")
    fwd = forward_seconds(work / "results/model/higher_hrnet_dynamic.onnx",
                          sorted((keep / "results/synthetic/prep").glob("shard*/prep_dir")), a.cores)
    n = a.images
    two_fwd = 2 * fwd / n
    from higherhrnet.evaluation.report import stage_seconds

    stages = stage_seconds(sorted(set((work / "benchmarks").rglob("*.tsv")) - warm_benchmarks))
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"| images | shards | cores | warm-up (data+weights+export) s | end-to-end s | s/image "
          f"| 2 forwards s/image | ratio | peak disk MB (above the {base/1e6:.0f} MB before) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {n} | {a.shards} | {a.cores} | {warm:.1f} | {wall:.1f} | {wall/n:.3f} | "
          f"{two_fwd:.3f} | {wall/n/two_fwd:.2f} | {(sampler.peak-base)/1e6:.0f} |")
    print("\nper stage, wall seconds per image (sum over shards / images; jobs include process"
          " start-up and imports):")
    print("| " + " | ".join(stages) + " |")
    print("|" + "---|" * len(stages))
    print("| " + " | ".join(f"{v / n:.3f}" for v in stages.values()) + " |")
    metrics = work / "results/synthetic/onnxruntime/metrics.json"
    print(json.dumps({"images": n, "wall_s": wall, "s_per_image": wall / n,
                      "two_forwards_s_per_image": two_fwd, "ratio": wall / n / two_fwd,
                      "peak_disk_bytes": sampler.peak - base,
                      "stage_s_per_image": {k: v / n for k, v in stages.items()},
                      "metrics_written": metrics.is_file()}))
    if a.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
