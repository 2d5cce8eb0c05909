# Preprocess and flip preprocess, scattered over shards: <image_id:012d>.npy float32 [1,3,H,W].
# One pair of jobs per shard and scale of the test ({geo}: the scale's path tag, empty for
# the one-scale test of W32-512, see Settings.scale_tag in higherhrnet.workflow.config).
# The tensors go one level down (shardK/prep_dir, shardK/prep_flip_dir): Snakemake puts a
# .snakemake_timestamp file into every directory() output, and ais_bench reads every file of
# its --input folder.


rule preprocess:
    input:
        annotations=ANNOTATIONS,
        images=IMAGES,
    output:
        tensors=maybe_temp(directory(P.tensors("prep")), "preprocessed"),
        manifest=P.manifest("prep"),
    log:
        P.log("preprocess{geo}/shard{shard}", per_backend=False),
    benchmark:
        P.bench("preprocess{geo}/shard{shard}", per_backend=False)
    conda:
        "../envs/data.yaml"
    threads: config["infer"]["threads"]  # the bound on tensors in flight: workflow.scheduling
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        made_from=made_from("preprocess"),
        shards=NSHARDS,
        policy=S.shape_policy,
        geometry=lambda wildcards: args.preprocess_geometry(wildcards.geo),
        which="--output",
        dirname=PREP_DIRNAME["prep"],
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
        tensors=maybe_temp(directory(P.tensors("prep_flip")), "preprocessed"),
        manifest=P.manifest("prep_flip"),
    log:
        P.log("preprocess_flip{geo}/shard{shard}", per_backend=False),
    benchmark:
        P.bench("preprocess_flip{geo}/shard{shard}", per_backend=False)
    params:
        which="--output-flip",
        dirname=PREP_DIRNAME["prep_flip"],
