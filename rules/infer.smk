# The guide's two ais_bench runs (normal and flipped inputs), on the configured backend, per
# shard and scale of the test ({geo}, see preprocess.smk).
# Every backend writes ais_bench's layout: <out>/<dirname>/<stem>_{0,1}.npy + <dirname>_summary.json.
# Tensor folders are inputs through ancient(): their manifest carries the timestamp. Snakemake
# deletes a temp folder file by file, so a run killed meanwhile leaves a half-deleted folder with
# a fresh mtime, which would otherwise re-run a finished job on what is left of it.


rule infer:
    input:
        model=MODEL,
        tensors=ancient(P.tensors("prep")),
        manifest=P.manifest("prep"),
        engines=ENGINES,
    output:
        outputs=maybe_temp(directory(P.outputs("prep")), "raw_outputs"),
        summary=P.summary("prep"),
    log:
        P.log("infer{geo}/shard{shard}"),
    benchmark:
        P.bench("infer{geo}/shard{shard}")
    priority: 10
    conda:
        INFER_ENV
    threads: config["infer"]["threads"]  # --threads {threads}: as Snakemake scales it to --cores
    resources:
        **args.infer_resources(S),
    params:
        made_from=made_from("infer"),
        backend=BACKEND,
        args=args.infer_args(config, S),
        engines=ENGINES_FLAG,
        outdir=lambda wildcards, output: str(Path(output.summary).parent),
        prep_dirname=PREP_DIRNAME["prep"],
        dirname=OUTPUT_DIRNAME["prep"],
    shell:
        with_code(
            "infer",
            'python "$HHRNET_SCRIPTS/infer.py" --backend {params.backend} --model {input.model:q} '
            "--input {input.tensors:q}/{params.prep_dirname} --output {params.outdir:q} "
            "--output-dirname {params.dirname} "
            "--manifest {input.manifest:q} --allow-empty --threads {threads} {params.args} "
            "{params.engines} "
            '--devices "$HHRNET_DEVICES" 2> {log:q}',
        )


use rule infer as infer_flip with:
    input:
        model=MODEL,
        tensors=ancient(P.tensors("prep_flip")),
        manifest=P.manifest("prep_flip"),
        engines=ENGINES,
    output:
        outputs=maybe_temp(directory(P.outputs("prep_flip")), "raw_outputs"),
        summary=P.summary("prep_flip"),
    log:
        P.log("infer_flip{geo}/shard{shard}"),
    benchmark:
        P.bench("infer_flip{geo}/shard{shard}")
    params:
        prep_dirname=PREP_DIRNAME["prep_flip"],
        dirname=OUTPUT_DIRNAME["prep_flip"],
