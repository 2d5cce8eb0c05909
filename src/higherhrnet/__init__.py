"""HigherHRNet-W32 inference workflow: the library behind the Snakemake stages."""

__version__ = "0.1.0"
