"""Peak disk of a run's intermediates against the workflow's own pre-check estimate.

Runs the real workflow on a generated synthetic set (default 24 images in 8 shards, synthetic
weights) once per variant (--cores x keep settings x shards_in_flight), each in a copy of one
warm-up folder that holds the dataset, the weights and the ONNX export. While a run goes, a
thread samples every 0.05 s the bytes under the intermediates' folders (prep/, prep_flip/,
<backend>/infer/) and how many shards hold tensors or raw outputs; the table compares the
peak with the workflow's pre-check estimate (higherhrnet.workflow.disk, the figure the README states;
the ONNX model is exported already here, so it does not count).

    python bench/bench_disk_peak.py [--images 24] [--shards 8] [--cores 2 16]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from higherhrnet.data.coco import image_records, load_keypoint_annotations  # noqa: E402
from higherhrnet.workflow.disk import estimate, folder_bytes  # noqa: E402
from bench_workflow import snakemake  # noqa: E402  (same folder: one runner for both benches)

DS = Path("results/synthetic")
RUN = DS / "onnxruntime"


def shards_holding(folders: list[Path]) -> int:
    """Folders (one per shard and pass) that hold at least one .npy now."""
    n = 0
    for d in folders:
        try:
            n += any(name.endswith(".npy") for _, _, files in os.walk(d) for name in files)
        except FileNotFoundError:
            pass
    return n


class Sampler(threading.Thread):
    def __init__(self, work: Path, shards: int, every: float = 0.05):
        super().__init__(daemon=True)
        self.work, self.every, self._halt = work, every, threading.Event()
        self.roots = [work / DS / "prep", work / DS / "prep_flip", work / RUN / "infer"]
        self.tensor_dirs = [work / DS / p / f"shard{k}" for p in ("prep", "prep_flip")
                            for k in range(shards)]
        self.raw_dirs = [work / RUN / f"infer/shard{k}/{d}" for d in ("output_dir", "output_flip_dir")
                         for k in range(shards)]
        self.peak = self.tensor_shards = self.raw_shards = 0

    def run(self):
        while not self._halt.is_set():
            self.peak = max(self.peak, folder_bytes(self.roots))
            self.tensor_shards = max(self.tensor_shards, shards_holding(self.tensor_dirs))
            self.raw_shards = max(self.raw_shards, shards_holding(self.raw_dirs))
            time.sleep(self.every)

    def stop(self):
        self._halt.set()
        self.join()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--cores", type=int, nargs="+", default=[2, 16])
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args(argv)
    base = a.workdir or Path(tempfile.mkdtemp(prefix="bench_disk_"))
    base.mkdir(parents=True, exist_ok=True)
    common = [f"dataset={{name: synthetic, synthetic_images: {a.images}}}", f"shards={a.shards}"]
    warm = base / "warm"
    warm.mkdir(exist_ok=True)
    snakemake(warm, common, 2, "--until", "export_onnx", "make_synthetic_dataset")
    records = image_records(load_keypoint_annotations(warm / "resources/synthetic/annotations.json"))
    variants = []
    for cores in a.cores:
        variants.append((cores, "default (tensors temp, raw outputs kept)", [], []))
        variants.append((cores, "keep_intermediates: false", ["keep_intermediates=False"], []))
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"{a.images} synthetic images in {a.shards} shards; intermediates = prep/, prep_flip/, "
          "onnxruntime/infer/\n")
    print("| --cores | keep settings | estimate MB | measured peak MB "
          "| max shard-passes with tensors | with raw outputs | wall s |")
    print("|---|---|---|---|---|---|---|")
    for cores, label, extra, cli in variants:
        work = base / f"run_{len(os.listdir(base))}"
        shutil.copytree(warm, work, symlinks=True)
        sampler = Sampler(work, a.shards)
        sampler.start()
        wall = snakemake(work, common + extra, cores, *cli)
        sampler.stop()
        keep_raw = not extra
        est = estimate(records, a.shards, "ascend17", False, keep_raw, max(1, cores // 2) + 1)
        print(f"| {cores} | {label} | {est.total / 1e6:.0f} "
              f"| {sampler.peak / 1e6:.0f} | {sampler.tensor_shards} | {sampler.raw_shards} "
              f"| {wall:.0f} |", flush=True)
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
