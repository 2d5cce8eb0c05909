"""Per-shape performance of the configured backend, as the guide reports it (images/s, ms).

For each compiled input shape ``[1,3,H,W]`` the model runs ``warmup`` uncounted times and then
``loops`` timed times on one input: on Ascend through ``python3 -m ais_bench --loop N
--warmup_count W`` (its ``NPU_compute_time`` and ``throughput``), elsewhere through the
in-process engine of the infer stage (ONNX Runtime or torch, same threads and provider).
Throughput is ais_bench's definition: 1000 x batch / mean compute time in ms. The guide's
figure, 185.28 images/s, is for an AOE-tuned model on an Ascend 310P3 at batch 1.

In a workflow run the shapes are those the dataset uses (:func:`dataset_shapes`, from the
preprocess manifests, each image counted once per pass), most frequent first, and the runs
are sized by :func:`plan_runs` to a small ``share`` of the run's own inferences: a shape gets
``loops`` timed runs only where the dataset has many images of it. Shapes left out by that
budget get a latency estimated from the measured ones' time per pixel, so the table still
gives the run's expected inference time (images of each shape x its latency).
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import save_npy, write_json, write_text
from .runner import latency_stats
from ..errors import WorkflowError
from ..preprocess.shapes import ASCEND_SHAPES
from ..pages import PAGE_START

GUIDE_FPS = 185.28
GUIDE_SETUP = "Ascend 310P3, batch 1, AOE-tuned .om (the guide's 性能(aoe) column)"
#: the guide's per-shape table also reports an NVIDIA T4 (``trtexec --fp16``, batch 1): 27
#: images/s on average over the 17 shapes (20 the slowest, 39 at 512x512)
GUIDE_T4_FPS = 27.0
GUIDE_T4_SETUP = "NVIDIA T4, trtexec --fp16, batch 1 (the guide's T4 column; 20 to 39 per shape)"
INPUT_STEM = "000000000000"


def parse_shapes(values: Sequence[str], compiled=ASCEND_SHAPES,
                 any_shape: bool = False) -> list[tuple[int, int]]:
    """``["512x512", ...]`` (HxW) -> shapes; empty = every compiled shape. Each must be one,
    unless ``any_shape`` (engines that take any multiple of 32)."""
    if not values:
        return list(compiled)
    out = []
    for v in values:
        try:
            h, w = (int(x) for x in str(v).lower().split("x"))
        except ValueError:
            raise WorkflowError(f"benchmark shape {v!r}: write HxW, e.g. 512x768") from None
        if any_shape and h > 0 and w > 0 and not (h % 32 or w % 32):
            out.append((h, w))
            continue
        if (h, w) not in compiled:
            raise WorkflowError(f"benchmark shape {v}: not one of the {len(compiled)} compiled "
                                "shapes (for W32-512 at one scale 512x512..512x1024, "
                                "576x512..1024x512; see model.variant, test.scales)")
        out.append((h, w))
    return out


#: the guide's input shape (its 185.28 images/s)
GUIDE_SHAPE = (512, 512)


def dataset_shapes(manifests, passes: int = 2) -> list[tuple[tuple[int, int], int]]:
    """((H, W), inferences) of a run, from its preprocess manifests (every scale's; each image
    runs ``passes`` times: normal and flipped input), most frequent first."""
    from ..preprocess.manifest import Manifest

    counts: Counter = Counter()
    for path in manifests:
        for e in Manifest.read(path).entries:
            counts[(e.input_h, e.input_w)] += passes
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def plan_runs(shape_counts, loops: int, warmup: int, share: float) -> list[dict]:
    """Which shapes to measure and how often, within ``share`` x the run's inferences (all
    runs, warm-up included): most frequent first, a shape gets min(loops, share x its
    inferences) timed runs (at least 1) and at most as many warm-up runs; the most frequent
    shape is always measured, the next ones while the budget lasts."""
    budget = share * sum(n for _, n in shape_counts)
    plan, used = [], 0
    for (h, w), n in shape_counts:
        timed = min(loops, max(1, int(share * n)))
        warm = min(warmup, timed)
        if plan and used + timed + warm > budget:
            continue
        plan.append({"shape": (h, w), "images": n, "loops": timed, "warmup": warm})
        used += timed + warm
    return plan


def _per_shape(value, shapes) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * len(shapes)


def parse_batch_sizes(text: str) -> list[int]:
    """``"1,8,32"`` -> [1, 8, 32]; WorkflowError naming the value otherwise."""
    try:
        sizes = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise WorkflowError(f"--batch-sizes {text!r}: write batch sizes >= 1, comma-separated, "
                            "e.g. 1,8,32")
    return sizes


def _row(h: int, w: int, compute_ms: dict, throughput: float, batch: int = 1) -> dict:
    return {"height": h, "width": w, "batch": batch, "throughput": throughput,
            "latency_mean_ms": compute_ms["mean"], "latency_median_ms": compute_ms["median"],
            "latency_p99_ms": compute_ms["percentile(99%)"], "count": compute_ms["count"]}


def measure_engine(engine, shapes, loops, warmup, seed: int = 0,
                   batch_sizes: Sequence[int] = (1,)) -> list[dict]:
    """Rows for an in-process engine (``forward(x)`` -> (out1, out2, compute_ms, ...));
    ``loops``/``warmup``: one number, or one per shape; per shape one row per batch size
    (images/s = 1000 x batch / mean ms)."""
    rng = np.random.default_rng(seed)
    rows = []
    for (h, w), loops, warmup in zip(shapes, _per_shape(loops, shapes),
                                     _per_shape(warmup, shapes)):
        for batch in sorted(set(batch_sizes)):
            if batch < 1:
                raise WorkflowError(f"benchmark batch size {batch}: must be >= 1")
            x = rng.standard_normal((batch, 3, h, w), dtype=np.float32)
            for _ in range(warmup):
                engine.forward(x)
            times = [engine.forward(x)[2] for _ in range(loops)]
            stats = latency_stats(times)
            rows.append(_row(h, w, stats, 1000.0 * batch / stats["mean"] if stats["mean"]
                             else 0.0, batch))
    return rows


def measure_ascend(model_om, shapes, loops, warmup, workdir, device=None,
                   cann_env=None, python: str = "python3") -> list[dict]:
    """Rows from ``ais_bench --loop N --warmup_count W`` runs, one input tensor per shape under
    ``workdir``; ``loops``/``warmup``: one number, or one per shape."""
    from .ascend.run import run_loop

    rows = []
    for (h, w), loops, warmup in zip(shapes, _per_shape(loops, shapes),
                                     _per_shape(warmup, shapes)):
        folder = Path(workdir) / f"{h}x{w}"
        save_npy(folder / "input" / f"{INPUT_STEM}.npy", np.zeros((1, 3, h, w), np.float32))
        s = run_loop(model_om, folder / "input", folder, "output", loops, warmup,
                     device=device, log=folder / "ais_bench.log", cann_env=cann_env,
                     python=python)
        rows.append(_row(h, w, s["NPU_compute_time"], float(s.get("throughput", 0.0))))
    return rows


def benchmark(backend: str, model, shapes, loops: int, warmup: int, workdir, *,
              threads=None, providers: str = "cpu", device=None, cann_env=None,
              python: str = "python3", plan: list[dict] | None = None,
              dataset: list | None = None, precision: str = "fp32", engines=None,
              batch_sizes: Sequence[int] = (1,), variant: str = "w32_512") -> dict:
    """Measure ``shapes`` ``loops`` times each after ``warmup`` runs, or, given ``plan``
    (:func:`plan_runs`), its shapes as often as it says. ``dataset``
    (:func:`dataset_shapes`) adds the run's images per shape and its expected inference
    time."""
    if loops < 1:
        raise WorkflowError(f"benchmark loops {loops}: must be >= 1")
    from .engine import backend as backend_record

    if plan is not None:
        shapes = [tuple(p["shape"]) for p in plan]
        per_loops, per_warmup = [p["loops"] for p in plan], [p["warmup"] for p in plan]
    else:
        per_loops, per_warmup = loops, warmup
    rows, info = backend_record(backend).measure(model, shapes, per_loops, per_warmup, workdir,
                                                 threads=threads, providers=providers,
                                                 device=device, cann_env=cann_env,
                                                 python=python, precision=precision,
                                                 engines=engines, batch_sizes=batch_sizes,
                                                 variant=variant)
    result = {"backend": backend, "model": str(model), "loops": loops, "warmup": warmup,
              **info, "guide_fps": GUIDE_FPS, "guide_setup": GUIDE_SETUP,
              "guide_t4_fps": GUIDE_T4_FPS, "guide_t4_setup": GUIDE_T4_SETUP, "shapes": rows,
              "best_batch": best_batch(rows)}
    if dataset is not None:  # the run's time: batch-1 rates (the infer jobs' batching aside)
        result.update(expected([r for r in rows if r.get("batch", 1) == 1], dataset))
    return result


def best_batch(rows: Sequence[dict]) -> dict:
    """Per shape "HxW": the batch size with the most images/s and that figure."""
    best: dict[str, dict] = {}
    for r in rows:
        key = f"{r['height']}x{r['width']}"
        if key not in best or r["throughput"] > best[key]["throughput"]:
            best[key] = {"batch": r.get("batch", 1), "throughput": r["throughput"]}
    return best


def _ms_per_pixel(rows) -> float:
    pixels = sum(r["height"] * r["width"] for r in rows)
    return sum(r["latency_mean_ms"] for r in rows) / pixels if pixels else 0.0


def expected(rows: list[dict], dataset) -> dict:
    """Per shape of the run: its inferences and latency (measured, or estimated from the
    measured shapes' time per pixel), the run's expected inference time, and the latency at
    the guide's 512x512."""
    measured = {(r["height"], r["width"]): r for r in rows}
    rate = _ms_per_pixel(rows)
    per_shape, total_ms = [], 0.0
    for (h, w), n in dataset:
        r = measured.get((h, w))
        ms = r["latency_mean_ms"] if r else rate * h * w
        per_shape.append({"height": h, "width": w, "images": n, "latency_mean_ms": ms,
                          "measured": r is not None})
        total_ms += n * ms
    for r in rows:
        r["images"] = dict(dataset).get((r["height"], r["width"]), 0)
    guide = measured.get(GUIDE_SHAPE)
    guide_ms = guide["latency_mean_ms"] if guide else rate * GUIDE_SHAPE[0] * GUIDE_SHAPE[1]
    inferences = sum(n for _, n in dataset)
    return {"dataset_shapes": per_shape, "inferences": inferences,
            "expected_inference_s": total_ms / 1000.0,
            "run_fps": 1000.0 * inferences / total_ms if total_ms else 0.0,
            "at_guide_shape": {"shape": "512x512", "measured": guide is not None,
                               "throughput": 1000.0 / guide_ms if guide_ms else 0.0}}


def table_html(result: dict) -> str:
    t4 = result.get("guide_t4_fps", GUIDE_T4_FPS)
    rows = "".join(
        f"<tr><td>{r['height']}x{r['width']}</td><td>{r.get('batch', 1)}</td>"
        f"<td>{r.get('images', '')}</td><td>{r['throughput']:.2f}</td>"
        f"<td>{r['latency_mean_ms']:.1f}</td><td>{r['latency_median_ms']:.1f}</td>"
        f"<td>{r['latency_p99_ms']:.1f}</td><td>{r['count']}</td></tr>"
        for r in result["shapes"])
    if "dataset_shapes" in result:
        est = [s for s in result["dataset_shapes"] if not s["measured"]]
        rows += "".join(
            f"<tr><td>{s['height']}x{s['width']}</td><td>1</td><td>{s['images']}</td>"
            f"<td>{1000.0 / s['latency_mean_ms'] if s['latency_mean_ms'] else 0:.2f} (est.)</td>"
            f"<td>{s['latency_mean_ms']:.1f} (est.)</td><td></td><td></td><td>0</td></tr>"
            for s in est)
        g = result["at_guide_shape"]
        summary = (
            f"This run: {result['inferences']} inferences (images x passes x scales) in "
            f"{len(result['dataset_shapes'])} shape(s), expected inference time "
            f"{result['expected_inference_s']:.1f} s at these rates "
            f"({result['run_fps']:.2f} images/s over the run's shapes); at the guide's "
            f"512x512: <b>{g['throughput']:.2f} images/s</b> "
            f"({'measured' if g['measured'] else 'estimated from the measured shapes’ time per pixel'}).")
        note = ("Shapes: those this run's images use, most frequent first; (est.): not "
                "measured within benchmark_model.share of the run's inferences, latency "
                "scaled by pixels from the measured shapes.")
    else:
        batch1 = [r for r in result["shapes"] if r.get("batch", 1) == 1] or result["shapes"]
        mean_fps = float(np.mean([r["throughput"] for r in batch1]))
        summary = (f"This run: {mean_fps:.2f} images/s at batch 1 averaged over "
                   f"{len(batch1)} shape(s).")
        note = ""
    return (
        PAGE_START +
        f"<h3>Model throughput per input shape: backend {html.escape(result['backend'])}, "
        f"device {html.escape(str(result.get('device')))}, up to {result['loops']} timed runs "
        f"after up to {result['warmup']} warm-up per shape and batch size, precision "
        f"{html.escape(str(result.get('precision', 'fp32')))}</h3>"
        f"<p>Guide: <b>{result['guide_fps']:.2f} images/s</b> at 512x512 "
        f"({html.escape(GUIDE_SETUP)}); <b>{t4:.0f} images/s</b> averaged over the 17 shapes "
        f"({html.escape(GUIDE_T4_SETUP)}). {summary}</p>"
        + (f"<p>{html.escape(note)}</p>" if note else "")
        + "<table border='1' cellpadding='4'><tr><th>input HxW</th><th>batch</th>"
        "<th>images in this run</th>"
        "<th>images/s</th><th>latency mean (ms)</th><th>median (ms)</th><th>p99 (ms)</th>"
        "<th>runs</th></tr>"
        + rows + f"<tr><td>guide 512x512 (310P3, AOE)</td><td>1</td><td></td>"
        f"<td>{result['guide_fps']:.2f}</td><td></td><td></td><td></td><td></td></tr>"
        f"<tr><td>guide, 17 shapes (T4, trtexec --fp16)</td><td>1</td><td></td><td>{t4:.2f}</td>"
        "<td></td><td></td><td></td><td></td></tr></table></body></html>\n")


def write(result: dict, json_path, html_path) -> None:
    write_json(json_path, result)
    write_text(html_path, table_html(result))


__all__ = ["GUIDE_FPS", "GUIDE_T4_FPS", "benchmark", "best_batch", "dataset_shapes",
           "parse_batch_sizes", "parse_shapes", "plan_runs", "table_html", "write"]
