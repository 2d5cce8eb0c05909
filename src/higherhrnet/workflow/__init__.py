"""The workflow layer as plain functions of the config (coercion, preflight checks, argument
builders, paths, targets, the disk estimate, code digests), unit-tested without Snakemake."""
