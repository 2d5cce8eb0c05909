"""Per-image postprocess time (flip aggregation + grouping + refine + back to the image).

    python bench/bench_postprocess.py [--repeat 5] [--reference] [--threads 2] [--quick]

Cases:
* ``crafted``: the crafted 4-person 640x427 output (input 768x512) of
  ``../shared/reference/postprocess/crafted_640x427.npz``; reference 0.87 s per image.
* ``synthetic a/b/c``: outputs of the synthetic-weight network for the forward fixtures
  (``../shared/reference/forward/*.npz``: their stored outputs are the normal pass; the
  flipped pass is the synthetic-weight model run on the width-flipped input).  Random
  tags give hundreds of "people"; reference 28 s for the 512x512 one.  Without
  ``higherhrnet.model.network``/``higherhrnet.model.synthetic_weights`` the flipped pass falls back to the
  mirrored normal outputs (said in the output).

The time is the median over ``--repeat`` runs of each case.  ``--reference`` also times the
reference path (``postprocess.path: reference``: :mod:`higherhrnet.postprocess.reference`,
the straight port over dense maps) once per case and checks that both give identical
predictions and scores.  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from higherhrnet.data.coco import FLIP_INDEX  # noqa: E402
from higherhrnet.postprocess.coco_results import to_image  # noqa: E402
from higherhrnet.postprocess.params import GroupingParams  # noqa: E402
from higherhrnet.postprocess.stage import parse_outputs  # noqa: E402
from higherhrnet.preprocess.shapes import input_geometry  # noqa: E402

SHARED = ROOT.parent / "shared" / "reference"
REFERENCE_S = {"crafted": 0.87, "synthetic a_512x512": 28.0}
OUTPUTS = ("normal_output0", "normal_output1", "flipped_output0", "flipped_output1")


def flipped_outputs(x: np.ndarray, normal0: np.ndarray, normal1: np.ndarray):
    """The synthetic-weight model on the width-flipped input, or a mirrored fallback."""
    try:
        from higherhrnet.model.network import build_model
        from higherhrnet.model.synthetic_weights import synthetic_state_dict
    except ImportError:
        mirror = lambda a, perm: np.ascontiguousarray(a[:, perm, :, ::-1])  # noqa: E731
        return (mirror(normal0, list(FLIP_INDEX) + [17 + c for c in FLIP_INDEX]),
                mirror(normal1, list(FLIP_INDEX)), "mirrored normal outputs (no model)")
    if not hasattr(flipped_outputs, "model"):
        model = build_model()
        model.load_state_dict(synthetic_state_dict())
        flipped_outputs.model = model
    with torch.no_grad():
        o0, o1 = flipped_outputs.model(torch.flip(torch.from_numpy(x), [3]))
    return o0.numpy(), o1.numpy(), "synthetic-weight model on the flipped input"


def cases(quick: bool):
    d = np.load(SHARED / "postprocess" / "crafted_640x427.npz")
    yield "crafted", [d[k] for k in OUTPUTS], input_geometry(*d["image_wh"]), "fixture"
    names = ["a_512x512"] if quick else ["a_512x512", "b_512x768", "c_640x512"]
    for name in names:
        f = np.load(SHARED / "forward" / f"{name}.npz")
        x = f["input"]
        h, w = x.shape[2:]
        f0, f1, how = flipped_outputs(x, f["output0"], f["output1"])
        # an image whose network input is exactly h x w (short side 512)
        geom = input_geometry(w, h, "reference")
        yield f"synthetic {name}", [f["output0"], f["output1"], f0, f1], geom, how


def run_path(path, arrays, geom, params):
    """One image through the stage's computation ``path`` (fast | reference)."""
    parsed = parse_outputs(arrays, params, path)
    return to_image(parsed.refined, geom), parsed.scores


def timed(fn, *args, repeat=1):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--reference", "--brute", action="store_true",
                   help="also time the reference path (and check identical results)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (reference: 2)")
    p.add_argument("--quick", action="store_true", help="crafted + a_512x512 only")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = GroupingParams()
    rows = []
    for name, arrays, geom, how in cases(args.quick):
        run_path("fast", arrays, geom, params)  # warm-up
        t_fast, (preds, scores) = timed(run_path, "fast", arrays, geom, params,
                                        repeat=args.repeat)
        row = {"case": name, "people": len(scores), "fast": t_fast, "flip": how}
        if args.reference:
            t_ref, (rp, rs) = timed(run_path, "reference", arrays, geom, params)
            same = np.array_equal(rp, preds) and np.array_equal(rs, scores)
            row.update(reference=t_ref, same=same)
        rows.append(row)
        print(f"{name}: {row}", file=sys.stderr)
    print("| case | people | fast path (median s/image) | reference path here (s) | "
          "reference figure (s) | speed-up vs reference | identical result | flipped pass |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ref = REFERENCE_S.get(r["case"])
        speedup = f"{ref / r['fast']:.0f}x" if ref else "-"
        print(f"| {r['case']} | {r['people']} | {r['fast']:.4f} | "
              f"{r.get('reference', float('nan')):.2f} | {ref if ref else '-'} | "
              f"{speedup} | {r.get('same', '-')} | {r['flip']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
