"""Plot wall-clock time per stage from Snakemake benchmark files."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.evaluation.report import plot_stage_seconds, stage_seconds  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", required=True, help="PNG to write")
    ap.add_argument("benchmarks", nargs="+", help="benchmark .tsv files")
    a = ap.parse_args(argv)
    totals = stage_seconds(a.benchmarks)
    for name, s in totals.items():
        print(f"{name}: {s:.2f} s", file=sys.stderr)
    plot_stage_seconds(totals, a.output)


if __name__ == "__main__":
    cli_main(main)
