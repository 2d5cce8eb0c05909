# Postprocess per shard (flip aggregation, grouping, back to image coordinates), gather,
# COCO keypoint evaluation. A multi-scale test hands every scale's outputs and manifest to
# the shard's one postprocess job, in the scales' visiting order (descending).


rule postprocess:
    input:
        # ancient(): the summaries carry the timestamp (see infer.smk)
        outputs=scale_inputs(f"{INFER_OUT}/output_dir", old=True),
        outputs_flip=scale_inputs(f"{INFER_OUT}/output_flip_dir", old=True),
        summary=scale_inputs(f"{INFER_OUT}/output_dir_summary.json"),
        summary_flip=scale_inputs(f"{INFER_OUT}/output_flip_dir_summary.json"),
        manifest=scale_inputs(f"{DS}/prep{{geo}}/shard{{shard}}.manifest.json"),
    output:
        f"{RUN}/postprocess/shard{{shard}}.json",
    log:
        f"logs/{DATASET}/{BACKEND}/postprocess/shard{{shard}}.log",
    benchmark:
        f"benchmarks/{DATASET}/{BACKEND}/postprocess/shard{{shard}}.tsv"
    priority: 20
    conda:
        "../envs/postprocess.yaml"
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        detection_threshold=config["postprocess"]["detection_threshold"],
        tag_threshold=config["postprocess"]["tag_threshold"],
        max_people=config["postprocess"]["max_people"],
        nms_kernel=config["postprocess"]["nms_kernel"],
        nms_padding=config["postprocess"]["nms_padding"],
        assignment=config["postprocess"]["assignment"],
        path=config["postprocess"]["path"],
        scales=scale_flags,
        switches=" ".join(
            flag
            for flag, on in (
                ("--no-adjust", not config["postprocess"]["adjust"]),
                ("--no-refine", not config["postprocess"]["refine"]),
            )
            if on
        ),
    shell:
        with_code(
            "postprocess",
            'python "$HHRNET_SCRIPTS/postprocess.py" {params.scales} --output {output:q} '
            "--detection-threshold {params.detection_threshold} "
            "--tag-threshold {params.tag_threshold} --max-people {params.max_people} "
            "--nms-kernel {params.nms_kernel} --nms-padding {params.nms_padding} "
            "--assignment {params.assignment} --path {params.path} "
            "{params.switches} 2> {log:q}",
        )


rule gather_results:
    input:
        shard_paths(f"{RUN}/postprocess/shard{{shard}}.json"),
    output:
        f"{RUN}/keypoints_results.json",
    log:
        f"logs/{DATASET}/{BACKEND}/gather_results.log",
    conda:
        "../envs/postprocess.yaml"
    shell:
        with_code(
            "gather_results",
            'python "$HHRNET_SCRIPTS/gather_results.py" --output {output:q} {input:q} 2> {log:q}',
        )


rule evaluate:
    input:
        annotations=ANNOTATIONS,
        results=rules.gather_results.output[0],
    output:
        metrics=f"{RUN}/metrics.json",
        csv=f"{RUN}/metrics.csv",
        table=f"{RUN}/metrics.md",
    log:
        f"logs/{DATASET}/{BACKEND}/evaluate.log",
    benchmark:
        f"benchmarks/{DATASET}/{BACKEND}/evaluate.tsv"
    conda:
        "../envs/postprocess.yaml"
    resources:
        mem_mb=4000,
    shell:
        with_code(
            "evaluate",
            'python "$HHRNET_SCRIPTS/evaluate.py" --annotations {input.annotations:q} '
            "--results {input.results:q} --metrics {output.metrics:q} --csv {output.csv:q} "
            "--table {output.table:q} 2> {log:q}",
        )
