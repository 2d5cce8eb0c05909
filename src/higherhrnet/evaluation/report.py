"""Report pieces: the metrics table beside the guide's numbers, per-stage time plot."""

from __future__ import annotations

import csv
import html
from collections import defaultdict
from pathlib import Path

from ..errors import WorkflowError
from .cocoeval import available, fmt_percent
from .metric_sets import COCO_METRICS, MetricSet, metric_set
from ..files import read_json
from ..model.variants import get_variant
from ..pages import PAGE_START


def read_metrics(path: str | Path, ms: MetricSet = COCO_METRICS) -> dict[str, float | None]:
    """Metrics json written by the evaluate stage (values in 0..1; None: not available,
    ``null`` there or COCOeval's -1 in an older file); ``ms``: which metrics it holds."""
    path = Path(path)
    data = read_json(path, "metrics")
    if not isinstance(data, dict):
        raise WorkflowError(f"metrics {path}: expected a JSON object of metric values")
    missing = [m for m in ms.keys if m not in data]
    if missing:
        raise WorkflowError(f"metrics {path}: missing {', '.join(missing)}")
    try:
        return {m: available(data[m]) for m in ms.keys}
    except (TypeError, ValueError):
        raise WorkflowError(f"metrics {path}: a metric is neither a number nor null") from None


def scales_text(scales) -> str:
    """``1, 2`` for test.scales [1, 2]."""
    return ", ".join(f"{float(s):g}" for s in sorted(scales))


def run_line(variant: str, scales) -> str:
    """The model and test of a run without metrics (own images, video)."""
    v = get_variant(variant)
    return (f"<p>Model {html.escape(v.title)} (model.variant {html.escape(v.name)}, input "
            f"{v.input_size}), test scales [{html.escape(scales_text(scales))}], flip test.</p>")


def model_line(variant: str, scales) -> str:
    """The model and test of the run, with the reference's AP for that combination."""
    v = get_variant(variant)
    test = scales_text(scales)
    ap = v.reference_ap(scales)
    published = [f"{name}: {value:.1f}" for name, value in
                 (("[1]", v.ap_one_scale), ("[0.5, 1, 2]", v.ap_multi_scale)) if value is not None]
    ref = (f"reference AP ({v.ap_dataset}, flip test, HigherHRNet README): {ap:.1f}"
           if ap is not None else "the reference reports no AP for these scales"
           + (f" (it does for {' and '.join(published)})" if published else
              " nor for any other of this model"))
    return (f"<p>Model {html.escape(v.title)} (model.variant {html.escape(v.name)}), test "
            f"scales [{html.escape(test)}]: {ref}.</p>")


def metrics_html(metrics: dict[str, float | None], *, weights: str, dataset: str,
                 backend: str, variant: str = "w32_512", scales=(1.0,)) -> str:
    """This run beside the published numbers of its evaluation (COCO: the guide's;
    CrowdPose: the reference's test numbers); a metric without ground truth reads n/a,
    no difference."""
    ms = metric_set(get_variant(variant).keypoints)
    rows = []
    for m in ms.keys:
        ours = available(metrics[m])
        guide = ms.reference.get(m)
        diff = "" if guide is None or ours is None else f"{100.0 * (ours - guide):+.1f}"
        rows.append(
            f"<tr><td>{html.escape(ms.label(m))}</td><td>{fmt_percent(ours)}</td>"
            f"<td>{'' if guide is None else fmt_percent(guide)}</td><td>{diff}</td></tr>"
        )
    unavailable = [ms.label(m) for m in ms.keys if available(metrics[m]) is None]
    why = ("no image in that crowdIndex range" if ms.keypoints == "crowdpose" else
           "no annotated person with keypoints, or none of that size")
    note = ("" if not unavailable else
            f"<p>n/a: no ground truth for {html.escape(', '.join(unavailable))} ({why}, in "
            "the annotation file).</p>")
    warning = ""
    if weights == "synthetic":
        warning = ("<p><b>Synthetic weights: NOT a trained model.</b> These numbers only show "
                   "that the pipeline runs end to end; they are not comparable with the guide.</p>")
    elif dataset != "coco_val2017":
        warning = (f"<p>Dataset {html.escape(dataset)}: the published numbers are for "
                   f"{html.escape(ms.reference_dataset)}.</p>")
    return (
        PAGE_START +
        f"<h3>{html.escape(ms.title)}: dataset {html.escape(dataset)}, backend "
        f"{html.escape(backend)}, weights {html.escape(weights)}</h3>"
        f"{model_line(variant, scales)}{warning}"
        "<table border='1' cellpadding='4'><tr><th>metric</th><th>this run (%)</th>"
        f"<th>{html.escape(ms.reference_label)} (%)</th><th>difference</th></tr>"
        + "".join(rows) + "</table>"
        f"{note}</body></html>\n"
    )


def cropped_note(manifest_paths) -> str:
    """One line for the report: which images the run's shape policy cropped (the preprocess
    manifests' ``cropped``; only ``ascend17``, the guide's port, crops)."""
    from ..errors import first_few
    from ..preprocess.manifest import Manifest

    manifests = [Manifest.read(p) for p in manifest_paths]
    if not manifests:
        return ""
    policy = manifests[0].shape_policy
    names = [name for m in manifests for name in m.cropped]
    if not names:
        return (f"<p>Shape policy {html.escape(policy)}: every image seen whole "
                "(0 cropped).</p>")
    return (f"<p><b>Shape policy {html.escape(policy)}: {len(names)} image(s) cropped</b> "
            "(wider or taller than about 2:1: the guide's port cuts the long side to the longest "
            "compiled shape, keypoints beyond it are lost; shape_policy ascend17_fit or "
            f"reference sees them whole): {html.escape(first_few(names, 20))}</p>")


def stage_of(benchmark_path: str | Path) -> str:
    """Stage name of a benchmark file: .../<stage>/shardN.tsv or .../<stage>.tsv."""
    p = Path(benchmark_path)
    return p.parent.name if p.stem.startswith("shard") else p.stem


def stage_seconds(benchmark_files) -> dict[str, float]:
    """Wall-clock seconds per stage, summed over shards (Snakemake benchmark tsv 's' column)."""
    totals: dict[str, float] = defaultdict(float)
    for f in benchmark_files:
        with open(f, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows or "s" not in rows[0]:
            raise WorkflowError(f"benchmark {f}: no 's' column (not a Snakemake benchmark file)")
        totals[stage_of(f)] += sum(float(r["s"]) for r in rows) / len(rows)
    return dict(totals)


def plot_stage_seconds(totals: dict[str, float], output: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(totals)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names, [totals[n] for n in names], color="tab:blue")
    for i, n in enumerate(names):
        ax.text(totals[n], i, f" {totals[n]:.1f} s", va="center")
    ax.invert_yaxis()
    ax.set_xlabel("wall-clock seconds (sum over shards)")
    ax.set_title("time per stage")
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
