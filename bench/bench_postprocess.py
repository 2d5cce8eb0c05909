"""Per-image postprocess time, fast path against the project's reference path, by kind of input.

    python bench/bench_postprocess.py [--repeat 3] [--threads 2] [--kinds crafted,noise,...]

Kinds (every image of a kind goes through both paths; identical results are checked):

* ``crafted``: the crafted 4-person 640x427 output (input 768x512) of
  ``../shared/reference/postprocess/crafted_640x427.npz``;
* ``noise``: the synthetic-weight network's outputs for the forward fixtures
  (``../shared/reference/forward/{a_512x512,b_512x768,c_640x512}.npz``; the flipped pass is
  the same model on the width-flipped input): hundreds of "people" from random tags;
* ``oracle``: what an ideal network gives for the 8 COCO sample images (peaks exactly at the
  labels, zero background; ``tests/support/postprocess.py``, as the tests make them);
* ``realistic``: network-like outputs of the same 8 images (``../shared/reference/realistic/``:
  peaks below 1, weak and missing joints, false peaks, a low background, smooth tag fields),
  also checked against the reference implementation's own ``expected_results.json``.

Both paths are ``higherhrnet.postprocess.stage.parse_outputs`` (``fast`` and ``reference``,
the settings of ``postprocess.path``) plus the mapping back to the image, on arrays in memory
(file reading is not timed), with glibc keeping freed memory as the stage's CLI has it
(``postprocess.memory``).  In one process and interleaved: per image, the reference path
once, then the fast path ``--repeat`` times (its median is taken), so that both see the same
machine load.  Prints one markdown table (per kind: the sums of per-image times and their
ratio) and the per-stage split of the fast path on the realistic images.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from higherhrnet.postprocess.coco_results import results_for_image, to_image  # noqa: E402
from higherhrnet.postprocess.memory import keep_freed_memory  # noqa: E402
from higherhrnet.postprocess.params import GroupingParams  # noqa: E402
from higherhrnet.postprocess.stage import parse_outputs  # noqa: E402
from higherhrnet.preprocess.shapes import input_geometry  # noqa: E402
from support.postprocess import realistic_cases, sample_oracle_cases  # noqa: E402

SHARED = ROOT.parent / "shared"
OUTPUTS = ("normal_output0", "normal_output1", "flipped_output0", "flipped_output1")
KINDS = ("crafted", "noise", "oracle", "realistic")
STAGES = ("aggregate", "candidates", "grouping", "adjust", "refine")


def flipped_outputs(x: np.ndarray):
    """The synthetic-weight model on the width-flipped input."""
    from higherhrnet.model.network import build_model
    from higherhrnet.model.synthetic_weights import synthetic_state_dict

    if not hasattr(flipped_outputs, "model"):
        model = build_model()
        model.load_state_dict(synthetic_state_dict())
        flipped_outputs.model = model.eval()
    with torch.no_grad():
        o0, o1 = flipped_outputs.model(torch.flip(torch.from_numpy(x), [3]))
    return o0.numpy(), o1.numpy()


def cases(kind: str, workdir: Path):
    """``[(image_id, geometry, [n0, n1, f0, f1])]`` of one kind."""
    if kind == "crafted":
        d = np.load(SHARED / "reference" / "postprocess" / "crafted_640x427.npz")
        return [(1, input_geometry(*d["image_wh"]), [d[k] for k in OUTPUTS])]
    if kind == "noise":
        out = []
        for k, name in enumerate(("a_512x512", "b_512x768", "c_640x512")):
            f = np.load(SHARED / "reference" / "forward" / f"{name}.npz")
            h, w = f["input"].shape[2:]  # an image whose network input is exactly h x w
            out.append((k, input_geometry(w, h, "reference"),
                        [f["output0"], f["output1"], *flipped_outputs(f["input"])]))
        return out
    if kind == "oracle":
        return [(e.image_id, e.geometry(), a)
                for e, a in sample_oracle_cases(SHARED / "data" / "coco_sample")]
    if kind == "realistic":
        *_, found = realistic_cases(SHARED, workdir / "realistic")
        return [(e.image_id, e.geometry(), a) for e, a in found]
    raise ValueError(kind)


def run_path(path, image_id, geom, arrays, params):
    """One image through the stage's computation ``path``: (COCO results, stage seconds)."""
    parsed = parse_outputs(arrays, params, path)
    return results_for_image(image_id, to_image(parsed.refined, geom), parsed.scores), \
        parsed.stats


CLOCK = time.perf_counter


def timed(fn, *args):
    start = CLOCK()
    out = fn(*args)
    return CLOCK() - start, out


def measure(kind, found, params, repeat):
    row = {"kind": kind, "images": len(found), "people": 0, "reference": 0.0, "fast": 0.0,
           "identical": True, "stages": dict.fromkeys(STAGES, 0.0), "results": []}
    for image_id, geom, arrays in found:
        t_ref, (ref, _) = timed(run_path, "reference", image_id, geom, arrays, params)
        runs = [timed(run_path, "fast", image_id, geom, arrays, params) for _ in range(repeat)]
        t_fast = statistics.median(t for t, _ in runs)
        fast, stats = runs[len(runs) // 2][1]
        row["reference"] += t_ref
        row["fast"] += t_fast
        row["people"] += len(fast)
        row["identical"] &= fast == ref
        row["results"] += fast
        for stage in STAGES:
            row["stages"][stage] += stats.get(stage, 0.0)
        print(f"{kind} {image_id}: reference {t_ref:.3f} s, fast {t_fast:.4f} s, "
              f"{len(fast)} people", file=sys.stderr)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="fast-path runs per image (median)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (both paths)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {KINDS}")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: this process's CPU time (steadier on a busy machine; the "
                        "per-stage split stays wall time)")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the stage's CLI does (both paths alike)
    params = GroupingParams()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        found = {kind: cases(kind, Path(tmp)) for kind in args.kinds.split(",")}
        for _, geom, arrays in found[next(iter(found))][:1]:  # warm-up: imports, checks
            run_path("fast", 0, geom, arrays, params)
        for kind, kind_cases in found.items():
            rows.append(measure(kind, kind_cases, params, args.repeat))
    print("| input | images | people | reference path (s/image) | fast path (s/image) | "
          "ratio | identical results |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["images"]
        print(f"| {r['kind']} | {n} | {r['people']} | {r['reference'] / n:.3f} | "
              f"{r['fast'] / n:.4f} | {r['reference'] / r['fast']:.1f}x | {r['identical']} |")
    for r in rows:
        if r["kind"] == "realistic":
            expected = json.loads((SHARED / "reference" / "realistic" /
                                   "expected_results.json").read_text())
            print(f"\nrealistic: fast path identical to the reference implementation's "
                  f"expected_results.json: {r['results'] == expected}")
            n = r["images"]
            print("\n| fast path stage (realistic) | s/image | share |\n|---|---|---|")
            total = sum(r["stages"].values())
            for stage, s in r["stages"].items():
                print(f"| {stage} | {s / n:.4f} | {s / total:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
