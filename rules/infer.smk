# The guide's two ais_bench runs (normal and flipped inputs), on the configured backend, per
# shard and scale of the test ({geo}, see preprocess.smk).
# Every backend writes ais_bench's layout: <out>/<dirname>/<stem>_{0,1}.npy + <dirname>_summary.json.
# Tensor folders are inputs through ancient(): their manifest carries the timestamp. Snakemake
# deletes a temp folder file by file, so a run killed meanwhile leaves a half-deleted folder with
# a fresh mtime, which would otherwise re-run a finished job on what is left of it.


rule infer:
    input:
        model=backend_model(),
        tensors=ancient(f"{DS}/prep{{geo}}/shard{{shard}}"),
        manifest=f"{DS}/prep{{geo}}/shard{{shard}}.manifest.json",
    output:
        outputs=maybe_temp(
            directory(f"{RUN}/infer{{geo}}/shard{{shard}}/output_dir"), "raw_outputs"
        ),
        summary=f"{RUN}/infer{{geo}}/shard{{shard}}/output_dir_summary.json",
    log:
        f"logs/{DATASET}/{BACKEND}/infer{{geo}}/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/{BACKEND}/infer{{geo}}/shard{{shard}}.tsv"
    priority: 10
    conda:
        f"../envs/{BACKEND}.yaml"
    threads: config["infer"]["threads"]
    resources:
        **infer_resources(),
    params:
        backend=BACKEND,
        args=infer_args(),
        outdir=lambda wildcards, output: str(Path(output.summary).parent),
        prep_dirname="prep_dir",
        dirname="output_dir",
    shell:
        with_code(
            "infer",
            'python "$HHRNET_SCRIPTS/infer.py" --backend {params.backend} --model {input.model:q} '
            "--input {input.tensors:q}/{params.prep_dirname} --output {params.outdir:q} "
            "--output-dirname {params.dirname} "
            "--manifest {input.manifest:q} --allow-empty {params.args} 2> {log:q}",
        )


use rule infer as infer_flip with:
    input:
        model=backend_model(),
        tensors=ancient(f"{DS}/prep_flip{{geo}}/shard{{shard}}"),
        manifest=f"{DS}/prep_flip{{geo}}/shard{{shard}}.manifest.json",
    output:
        outputs=maybe_temp(
            directory(f"{RUN}/infer{{geo}}/shard{{shard}}/output_flip_dir"),
            "raw_outputs",
        ),
        summary=f"{RUN}/infer{{geo}}/shard{{shard}}/output_flip_dir_summary.json",
    log:
        f"logs/{DATASET}/{BACKEND}/infer_flip{{geo}}/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/{BACKEND}/infer_flip{{geo}}/shard{{shard}}.tsv"
    params:
        prep_dirname="prep_flip_dir",
        dirname="output_flip_dir",
