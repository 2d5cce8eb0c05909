# Preprocess and flip preprocess, scattered over shards: <image_id:012d>.npy float32 [1,3,H,W].
# The tensors go one level down (shardK/prep_dir, shardK/prep_flip_dir): Snakemake puts a
# .snakemake_timestamp file into every directory() output, and ais_bench reads every file of
# its --input folder.


rule check_disk:
    # before any long work: the estimate of the peak disk of the run's intermediates against
    # the free space (issue 13); preprocess and export take it through ancient(), so a new
    # estimate (other keep settings, backend, shards) does not re-run them
    input:
        annotations=ANNOTATIONS,
    output:
        DISK_CHECK,
    log:
        f"logs/{DATASET}/check_disk.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        shards=NSHARDS,
        policy=config["preprocess"]["shape_policy"],
        in_flight=IN_FLIGHT,
        keep=" ".join(
            flag
            for flag, on in (
                ("--keep-tensors", config["keep_intermediates"]["preprocessed"]),
                ("--keep-raw-outputs", config["keep_intermediates"]["raw_outputs"]),
            )
            if on
        ),
        onnx="" if BACKEND == "torch" else f"--onnx={shlex.quote(ONNX)}",
        intermediates=[f"{DS}/prep", f"{DS}/prep_flip", f"{RUN}/infer"],
        code=code_version("check_disk"),
    shell:
        'python "$HHRNET_SCRIPTS/check_disk.py" --annotations {input.annotations:q} '
        "--shards {params.shards} --shape-policy {params.policy} "
        "--shards-in-flight {params.in_flight} {params.keep} {params.onnx} "
        "--intermediates {params.intermediates:q} --output {output:q} 2> {log:q}"


rule shard_slot:
    # a temp() token: shard k may be preprocessed once shard k - shards_in_flight is
    # postprocessed (see shard_slot_inputs in common.smk)
    input:
        shard_slot_inputs,
    output:
        temp(f"{DS}/prep/shard{{shard}}.slot"),
    log:
        f"logs/{DATASET}/shard_slot/shard{{shard}}.log",
    localrule: True
    shell:
        "echo 'shard {wildcards.shard}: slot free' > {output:q} 2> {log:q}"


rule preprocess:
    input:
        annotations=ANNOTATIONS,
        images=IMAGES,
        slot=f"{DS}/prep/shard{{shard}}.slot",
        disk=ancient(DISK_CHECK),
    output:
        tensors=maybe_temp(directory(f"{DS}/prep/shard{{shard}}"), "preprocessed"),
        manifest=f"{DS}/prep/shard{{shard}}.manifest.json",
    log:
        f"logs/{DATASET}/preprocess/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/preprocess/shard{{shard}}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        shards=NSHARDS,
        policy=config["preprocess"]["shape_policy"],
        code=code_version("preprocess"),
    shell:
        'python "$HHRNET_SCRIPTS/preprocess.py" --annotations {input.annotations} '
        "--images {input.images} --output {output.tensors}/prep_dir --manifest {output.manifest} "
        "--shard {wildcards.shard} --num-shards {params.shards} "
        "--shape-policy {params.policy} 2> {log}"


rule preprocess_flip:
    input:
        annotations=ANNOTATIONS,
        images=IMAGES,
        slot=f"{DS}/prep/shard{{shard}}.slot",
        disk=ancient(DISK_CHECK),
    output:
        tensors=maybe_temp(directory(f"{DS}/prep_flip/shard{{shard}}"), "preprocessed"),
        manifest=f"{DS}/prep_flip/shard{{shard}}.manifest.json",
    log:
        f"logs/{DATASET}/preprocess_flip/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/preprocess_flip/shard{{shard}}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        shards=NSHARDS,
        policy=config["preprocess"]["shape_policy"],
        code=code_version("preprocess_flip"),
    shell:
        'python "$HHRNET_SCRIPTS/preprocess.py" --annotations {input.annotations} '
        "--images {input.images} --output-flip {output.tensors}/prep_flip_dir "
        "--manifest {output.manifest} "
        "--shard {wildcards.shard} --num-shards {params.shards} "
        "--shape-policy {params.policy} 2> {log}"
