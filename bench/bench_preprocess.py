"""Preprocess throughput per core (both stages) and bytes written per image per pass.

    python bench/bench_preprocess.py [--annotations F --images D] [--repeat 5] [--json out.json]

Defaults to the 8 real COCO images in ../shared/data/coco_sample. Runs on one core
(OpenCV and BLAS threads pinned to 1) so numbers are images/s per core; the workflow
scales by running shards in parallel. Stage "preprocess" writes ``--output`` tensors,
"flip" writes ``--output_flip`` tensors, "both" writes the two in one pass (what the
guide's script does). It also times the steps of one image (read, warp, normalise, save)
and compares the float32 NPY size with the exact uint8 warped canvas.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from higherhrnet.data.coco import image_records, load_keypoint_annotations  # noqa: E402
from higherhrnet.data.images import read_image_rgb  # noqa: E402
from higherhrnet.preprocess.stage import preprocess_shard  # noqa: E402
from higherhrnet.preprocess.shapes import input_geometry  # noqa: E402
from higherhrnet.preprocess.transforms import flip_width, to_normalized_tensor, warp_to_input  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "coco_sample"


def _folder_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.iterdir() if p.suffix == ".npy")


def bench_stage(ann: Path, images: Path, work: Path, stage: str, repeat: int, policy: str):
    best = float("inf")
    n = written = 0
    for _ in range(repeat):
        out = work / stage
        shutil.rmtree(out, ignore_errors=True)
        kw = {"out_dir": out / "p" if stage in ("preprocess", "both") else None,
              "flip_out_dir": out / "f" if stage in ("flip", "both") else None}
        t0 = time.perf_counter()
        man = preprocess_shard(ann, images, manifest_path=out / "m.json", policy=policy, **kw)
        best = min(best, time.perf_counter() - t0)
        n = len(man.entries)
        written = sum(_folder_bytes(d) for d in kw.values() if d is not None)
    passes = 2 if stage == "both" else 1
    return {"stage": stage, "images": n, "best_s": best, "images_per_s_per_core": n / best,
            "bytes_per_image_per_pass": written / max(n, 1) / passes}


def bench_steps(ann: Path, images: Path, repeat: int, policy: str):
    recs = image_records(load_keypoint_annotations(ann))
    steps = {"read": 0.0, "warp": 0.0, "normalise": 0.0, "flip": 0.0, "npy_serialise": 0.0}
    sizes = {"float32_npy": 0, "uint8_warped_npy": 0}
    for _ in range(repeat):
        for r in recs:
            t = time.perf_counter()
            img = read_image_rgb(images / r.file_name)
            t1 = time.perf_counter()
            warped = warp_to_input(img, input_geometry(img.shape[1], img.shape[0], policy))
            t2 = time.perf_counter()
            tensor = to_normalized_tensor(warped)
            t3 = time.perf_counter()
            flip_width(tensor)
            t4 = time.perf_counter()
            buf = io.BytesIO()
            np.save(buf, tensor)
            t5 = time.perf_counter()
            for k, dt in zip(steps, (t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                steps[k] += dt
            b8 = io.BytesIO()
            np.save(b8, warped)
            sizes["float32_npy"] += buf.tell()
            sizes["uint8_warped_npy"] += b8.tell()
    n = len(recs) * repeat
    return ({k: 1e3 * v / n for k, v in steps.items()},
            {k: v / n for k, v in sizes.items()})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", type=Path, default=SAMPLE / "person_keypoints_sample.json")
    p.add_argument("--images", type=Path, default=SAMPLE / "images")
    p.add_argument("--repeat", type=int, default=5, help="runs per stage; the best is kept")
    p.add_argument("--shape-policy", "--shape_policy", dest="policy", default="ascend17")
    p.add_argument("--workdir", type=Path, help="where tensors are written (default: a temp dir)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)

    # the step timings run first, which also warms up the file cache and OpenCV
    steps_ms, sizes = bench_steps(args.annotations, args.images, args.repeat, args.policy)
    work = Path(tempfile.mkdtemp(prefix="bench_pre_", dir=args.workdir))
    try:
        stages = [bench_stage(args.annotations, args.images, work, s, args.repeat, args.policy)
                  for s in ("preprocess", "flip", "both")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "opencv": cv2.__version__, "numpy": np.__version__, "policy": args.policy,
              "stages": stages, "step_ms_per_image": steps_ms, "bytes_per_image": sizes}

    print(f"preprocess benchmark ({args.policy}, 1 thread, best of {args.repeat}, "
          f"{stages[0]['images']} images; workdir {args.workdir or tempfile.gettempdir()})")
    for s in stages:
        print(f"  {s['stage']:<10} {s['images_per_s_per_core']:7.1f} images/s per core   "
              f"{s['bytes_per_image_per_pass'] / 1e6:6.2f} MB written per image per pass")
    print("  per image, ms: " + ", ".join(f"{k} {v:.2f}" for k, v in steps_ms.items()))
    print(f"  float32 NPY {sizes['float32_npy'] / 1e6:.2f} MB vs exact uint8 warped canvas "
          f"{sizes['uint8_warped_npy'] / 1e6:.2f} MB per image per pass")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
