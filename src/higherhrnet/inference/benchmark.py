"""Per-shape performance of the configured backend, as the guide reports it (images/s, ms).

For each compiled input shape ``[1,3,H,W]`` the model runs ``warmup`` uncounted times and then
``loops`` timed times on one input: on Ascend through ``python3 -m ais_bench --loop N
--warmup_count W`` (its ``NPU_compute_time`` and ``throughput``), elsewhere through the
in-process engine of the infer stage (ONNX Runtime or torch, same threads and provider).
Throughput is ais_bench's definition: 1000 x batch / mean compute time in ms. The guide's
figure, 185.28 images/s, is for an AOE-tuned model on an Ascend 310P3 at batch 1.
"""

from __future__ import annotations

import html
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


def measure_engine(engine, shapes, loops: int, warmup: int, seed: int = 0,
                   batch_sizes: Sequence[int] = (1,)) -> list[dict]:
    """Rows for an in-process engine (``forward(x)`` -> (out1, out2, compute_ms, ...)): per
    shape, one row per batch size (images/s = 1000 x batch / mean ms)."""
    rng = np.random.default_rng(seed)
    rows = []
    for h, w in shapes:
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


def measure_ascend(model_om, shapes, loops: int, warmup: int, workdir, device=None,
                   cann_env=None, python: str = "python3") -> list[dict]:
    """Rows from ``ais_bench --loop`` runs, one input tensor per shape under ``workdir``."""
    from .ascend.run import run_loop

    rows = []
    for h, w in shapes:
        folder = Path(workdir) / f"{h}x{w}"
        save_npy(folder / "input" / f"{INPUT_STEM}.npy", np.zeros((1, 3, h, w), np.float32))
        s = run_loop(model_om, folder / "input", folder, "output", loops, warmup,
                     device=device, log=folder / "ais_bench.log", cann_env=cann_env,
                     python=python)
        rows.append(_row(h, w, s["NPU_compute_time"], float(s.get("throughput", 0.0))))
    return rows


def benchmark(backend: str, model, shapes, loops: int, warmup: int, workdir, *,
              threads=None, providers: str = "cpu", device=None, cann_env=None,
              python: str = "python3", precision: str = "fp32", engines=None,
              batch_sizes: Sequence[int] = (1,), variant: str = "w32_512") -> dict:
    if loops < 1:
        raise WorkflowError(f"benchmark loops {loops}: must be >= 1")
    from .engine import backend as backend_record

    rows, info = backend_record(backend).measure(model, shapes, loops, warmup, workdir,
                                                 threads=threads, providers=providers,
                                                 device=device, cann_env=cann_env,
                                                 python=python, precision=precision,
                                                 engines=engines, batch_sizes=batch_sizes,
                                                 variant=variant)
    return {"backend": backend, "model": str(model), "loops": loops, "warmup": warmup,
            **info, "guide_fps": GUIDE_FPS, "guide_setup": GUIDE_SETUP,
            "guide_t4_fps": GUIDE_T4_FPS, "guide_t4_setup": GUIDE_T4_SETUP, "shapes": rows,
            "best_batch": best_batch(rows)}


def best_batch(rows: Sequence[dict]) -> dict:
    """Per shape "HxW": the batch size with the most images/s and that figure."""
    best: dict[str, dict] = {}
    for r in rows:
        key = f"{r['height']}x{r['width']}"
        if key not in best or r["throughput"] > best[key]["throughput"]:
            best[key] = {"batch": r.get("batch", 1), "throughput": r["throughput"]}
    return best


def table_html(result: dict) -> str:
    rows = "".join(
        f"<tr><td>{r['height']}x{r['width']}</td><td>{r.get('batch', 1)}</td>"
        f"<td>{r['throughput']:.2f}</td>"
        f"<td>{r['latency_mean_ms']:.1f}</td><td>{r['latency_median_ms']:.1f}</td>"
        f"<td>{r['latency_p99_ms']:.1f}</td><td>{r['count']}</td></tr>"
        for r in result["shapes"])
    batch1 = [r for r in result["shapes"] if r.get("batch", 1) == 1] or result["shapes"]
    mean_fps = float(np.mean([r["throughput"] for r in batch1]))
    t4 = result.get("guide_t4_fps", GUIDE_T4_FPS)
    return (
        PAGE_START +
        f"<h3>Model throughput per input shape: backend {html.escape(result['backend'])}, "
        f"device {html.escape(str(result.get('device')))}, {result['loops']} timed runs "
        f"after {result['warmup']} warm-up per shape and batch size, precision "
        f"{html.escape(str(result.get('precision', 'fp32')))}</h3>"
        f"<p>Guide: <b>{result['guide_fps']:.2f} images/s</b> ({html.escape(GUIDE_SETUP)}); "
        f"<b>{t4:.0f} images/s</b> ({html.escape(GUIDE_T4_SETUP)}). "
        f"This run: {mean_fps:.2f} images/s at batch 1 averaged over {len(batch1)} "
        "shape(s).</p>"
        "<table border='1' cellpadding='4'><tr><th>input HxW</th><th>batch</th>"
        "<th>images/s</th>"
        "<th>latency mean (ms)</th><th>median (ms)</th><th>p99 (ms)</th><th>runs</th></tr>"
        + rows + f"<tr><td>guide (310P3, AOE)</td><td>1</td><td>{result['guide_fps']:.2f}</td>"
        "<td></td><td></td><td></td><td></td></tr>"
        f"<tr><td>guide (T4, trtexec --fp16)</td><td>1</td><td>{t4:.2f}</td>"
        "<td></td><td></td><td></td><td></td></tr></table></body></html>\n")


def write(result: dict, json_path, html_path) -> None:
    write_json(json_path, result)
    write_text(html_path, table_html(result))


__all__ = ["GUIDE_FPS", "GUIDE_T4_FPS", "benchmark", "best_batch", "parse_shapes", "table_html", "write"]
