"""Per-image cost of the whole pipeline on CPU, stage by stage, against two forwards alone.

    python bench/bench_pipeline.py [--threads 2] [--shard-images 100] [--repeat 2]

On the 8 COCO sample images (``../shared/data/coco_sample``), every stage runs as the
workflow's job runs it: its CLI in a fresh process, as the rule calls it (``preprocess.py``
twice, normal and flipped; ``infer.py`` twice with ONNX Runtime; ``postprocess.py``;
``evaluate.py``).  The network is the synthetic-weight W32-512 export (its forward costs what
the trained network's does); the postprocess reads the *network-like* outputs of the same
images (``../shared/reference/realistic``: what a trained network's outputs look like), since
synthetic weights give noise whose postprocess says nothing about a real run.

Each stage is timed on all 8 images and on 1 of them: ``(t8 - t1) / 7`` is the per-image
cost, and ``t1`` minus that the job's fixed cost (process start-up, imports, model load).
A val2017 run shards its 5000 images into jobs of ``--shard-images`` (100 by default, 50
shards), so its per-image cost is the per-image costs plus the fixed costs / shard size.
"Two forwards alone" is ONNX Runtime on the same preprocessed tensors in this process
(both passes, same threads, no start-up): the floor any workflow pays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "coco_sample"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from support.postprocess import realistic_cases  # noqa: E402


def run(*args, env=None) -> float:
    """One stage CLI in a fresh process; wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=env)
    if proc.returncode:
        raise SystemExit(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def subset(annotations: Path, out: Path, n: int) -> Path:
    """The first ``n`` images of the sample annotations (and their annotations)."""
    ann = json.loads(annotations.read_text())
    keep = {img["id"] for img in ann["images"][:n]}
    ann["images"] = [i for i in ann["images"] if i["id"] in keep]
    ann["annotations"] = [a for a in ann["annotations"] if a["image_id"] in keep]
    out.write_text(json.dumps(ann))
    return out


def model(work: Path) -> Path:
    """The synthetic-weight W32-512 network exported to ONNX (opset 11, dynamic H/W)."""
    weights, onnx = work / "w.pth", work / "model.onnx"
    run(ROOT / "scripts" / "make_synthetic_weights.py", "--output", weights)
    run(ROOT / "scripts" / "export_onnx.py", "--weights", weights, "--onnx_path", onnx)
    return onnx


def stage_times(work: Path, n: int, onnx: Path, realistic, threads: int) -> dict[str, float]:
    """Wall seconds of each stage's job on the first ``n`` sample images."""
    d = work / f"n{n}"
    d.mkdir()
    ann = subset(SAMPLE / "person_keypoints_sample.json", d / "ann.json", n)
    s = ROOT / "scripts"
    t = {}
    for which, name in (("--output", "preprocess"), ("--output-flip", "preprocess_flip")):
        t[name] = run(s / "preprocess.py", "--annotations", ann, "--images", SAMPLE / "images",
                      which, d / name / "prep", "--manifest", d / f"{name}.json")
    for prep, name in (("preprocess", "infer"), ("preprocess_flip", "infer_flip")):
        t[name] = run(s / "infer.py", "--backend", "onnxruntime", "--model", onnx,
                      "--input", d / prep / "prep", "--output", d / name, "--output-dirname",
                      "out", "--manifest", d / f"{prep}.json", "--threads", threads)
    manifest, dump, flip, cases = realistic
    m = json.loads(Path(manifest).read_text())
    m["images"] = m["images"][:n]
    (d / "manifest.json").write_text(json.dumps(m))
    t["postprocess"] = run(s / "postprocess.py", "--dump_dir", dump, "--dump_dir_flip", flip,
                           "--manifest", d / "manifest.json", "--output", d / "results.json")
    t["evaluate"] = run(s / "evaluate.py", "--annotations", ann, "--results",
                        d / "results.json", "--metrics", d / "metrics.json")
    return t


def two_forwards(onnx: Path, work: Path, threads: int) -> float:
    """Seconds per image of both passes' forwards on the 8 images' tensors, in process."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
    tensors = [np.load(p) for name in ("preprocess", "preprocess_flip")
               for p in sorted((work / "n8" / name / "prep").glob("*.npy"))]
    sess.run(None, {"input": tensors[0]})  # warm-up
    start = time.perf_counter()
    for x in tensors:
        sess.run(None, {"input": x})
    return (time.perf_counter() - start) / (len(tensors) / 2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shard-images", type=int, default=100,
                   help="images per job in the run being estimated (val2017: 5000 / 50 shards)")
    p.add_argument("--repeat", type=int, default=2, help="median over this many runs")
    args = p.parse_args(argv)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    os.environ.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        onnx = model(work)
        realistic = realistic_cases(SHARED, work / "realistic")
        runs = []
        for r in range(args.repeat):
            rw = work / f"r{r}"
            rw.mkdir()
            runs.append({n: stage_times(rw, n, onnx, realistic, args.threads) for n in (1, 8)})
        fwd = two_forwards(onnx, work / "r0", args.threads)
    stages = list(runs[0][8])
    print("| stage | job on 8 images (s) | job on 1 image (s) | per image (s) | fixed per job (s) |")
    print("|---|---|---|---|---|")
    per_image = fixed = 0.0
    for st in stages:
        t8 = statistics.median(r[8][st] for r in runs)
        t1 = statistics.median(r[1][st] for r in runs)
        img = max((t8 - t1) / 7, 0.0)
        per_image, fixed = per_image + img, fixed + (t1 - img)
        print(f"| {st} | {t8:.2f} | {t1:.2f} | {img:.3f} | {t1 - img:.2f} |")
    total = per_image + fixed / args.shard_images
    print(f"\nper image, all stages: {per_image:.3f} s; fixed costs per shard: {fixed:.1f} s "
          f"({fixed / args.shard_images:.3f} s per image in shards of {args.shard_images})")
    print(f"per image in a val2017 run: {total:.3f} s; two forwards alone: {fwd:.3f} s "
          f"(ratio {total / fwd:.2f}); val2017 (5000 images): {5000 * total / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
