"""The one package of test helpers: inference inputs and the Ascend doubles (infer), dense
postprocess stand-ins (postprocess), weight checksums (weights), snakemake runs (workflow)."""
