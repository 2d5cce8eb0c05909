# Postprocess per shard (flip aggregation, grouping, back to image coordinates), gather,
# COCO keypoint evaluation. A multi-scale test hands every scale's outputs and manifest to
# the shard's one postprocess job, in the scales' visiting order (descending).


rule postprocess:
    input:
        # ancient(): the summaries carry the timestamp (see infer.smk)
        outputs=scale_inputs(P.outputs("prep"), old=True),
        outputs_flip=scale_inputs(P.outputs("prep_flip"), old=True),
        summary=scale_inputs(P.summary("prep")),
        summary_flip=scale_inputs(P.summary("prep_flip")),
        manifest=scale_inputs(P.manifest("prep")),
    output:
        P.postprocess,
    log:
        P.log("postprocess/shard{shard}"),
    benchmark:
        P.bench("postprocess/shard{shard}")
    priority: 20
    conda:
        "../envs/postprocess.yaml"
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        made_from=made_from("postprocess"),
        detection_threshold=config["postprocess"]["detection_threshold"],
        tag_threshold=config["postprocess"]["tag_threshold"],
        max_people=config["postprocess"]["max_people"],
        nms_kernel=config["postprocess"]["nms_kernel"],
        nms_padding=config["postprocess"]["nms_padding"],
        assignment=config["postprocess"]["assignment"],
        path=config["postprocess"]["path"],
        keypoints=S.keypoints,
        scales=lambda wildcards, input: args.scale_flags(
            S, input.outputs, input.outputs_flip, input.manifest
        ),
        switches=args.postprocess_switches(config),
    shell:
        with_code(
            "postprocess",
            'python "$HHRNET_SCRIPTS/postprocess.py" {params.scales} --output {output:q} '
            "--detection-threshold {params.detection_threshold} "
            "--tag-threshold {params.tag_threshold} --max-people {params.max_people} "
            "--nms-kernel {params.nms_kernel} --nms-padding {params.nms_padding} "
            "--assignment {params.assignment} --path {params.path} "
            "--keypoints {params.keypoints} "
            "{params.switches} 2> {log:q}",
        )


localrules:
    gather_results,  # concatenates the shards' json files


rule gather_results:
    input:
        targets.shard_paths(P.postprocess, SHARD_IDS),
    output:
        P.result("keypoints_results.json"),
    log:
        P.log("gather_results"),
    benchmark:
        P.bench("gather_results")
    conda:
        "../envs/postprocess.yaml"
    params:
        made_from=made_from("gather_results"),
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
        metrics=P.result("metrics.json"),
        csv=P.result("metrics.csv"),
        table=P.result("metrics.md"),
    log:
        P.log("evaluate"),
    benchmark:
        P.bench("evaluate")
    conda:
        "../envs/postprocess.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        keypoints=S.keypoints,
        made_from=made_from("evaluate"),
    shell:
        with_code(
            "evaluate",
            'python "$HHRNET_SCRIPTS/evaluate.py" --annotations {input.annotations:q} '
            "--results {input.results:q} --metrics {output.metrics:q} --csv {output.csv:q} "
            "--table {output.table:q} --keypoints {params.keypoints} 2> {log:q}",
        )
