# Preprocess and flip preprocess, scattered over shards: <image_id:012d>.npy float32 [1,3,H,W].
# One pair of jobs per shard and scale of the test ({geo}: the scale's path tag, empty for
# the one-scale test of W32-512, see scale_tag in common.smk).
# The tensors go one level down (shardK/prep_dir, shardK/prep_flip_dir): Snakemake puts a
# .snakemake_timestamp file into every directory() output, and ais_bench reads every file of
# its --input folder.


rule preprocess:
    input:
        annotations=ANNOTATIONS,
        images=IMAGES,
    output:
        tensors=maybe_temp(
            directory(f"{DS}/prep{{geo}}/shard{{shard}}"), "preprocessed"
        ),
        manifest=f"{DS}/prep{{geo}}/shard{{shard}}.manifest.json",
    log:
        f"logs/{DATASET}/preprocess{{geo}}/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/preprocess{{geo}}/shard{{shard}}.tsv"
    conda:
        "../envs/data.yaml"
    threads: config["infer"]["threads"]  # the bound on tensors in flight: SCHEDULING, common.smk
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        shards=NSHARDS,
        policy=config["preprocess"]["shape_policy"],
        geometry=tag_geometry,
        which="--output",
        dirname="prep_dir",
    shell:
        with_code(
            "preprocess",
            'python "$HHRNET_SCRIPTS/preprocess.py" --annotations {input.annotations:q} '
            "--images {input.images:q} {params.which} {output.tensors:q}/{params.dirname} "
            "--manifest {output.manifest:q} "
            "--shard {wildcards.shard} --num-shards {params.shards} "
            "--shape-policy {params.policy} {params.geometry} 2> {log:q}",
        )


use rule preprocess as preprocess_flip with:
    output:
        tensors=maybe_temp(
            directory(f"{DS}/prep_flip{{geo}}/shard{{shard}}"), "preprocessed"
        ),
        manifest=f"{DS}/prep_flip{{geo}}/shard{{shard}}.manifest.json",
    log:
        f"logs/{DATASET}/preprocess_flip{{geo}}/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/preprocess_flip{{geo}}/shard{{shard}}.tsv"
    params:
        which="--output-flip",
        dirname="prep_flip_dir",
