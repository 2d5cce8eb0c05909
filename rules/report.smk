# Report pieces: metrics beside the guide's AP, per-stage time from the benchmark files,
# skeleton drawings. `snakemake --report report.html` collects them.


# small tables, one plot, report.drawings (4) drawings
localrules:
    metrics_table,
    plot_stage_times,
    draw_skeletons,


rule metrics_table:
    input:
        metrics=rules.evaluate.output.metrics,
        # the images the shape policy cropped (Manifest.cropped: the same at every scale)
        manifests=targets.scale_shard_paths(P.manifest("prep"), GEOS[0], SHARD_IDS),
    output:
        report(
            P.result("metrics.html"),
            caption="../report/metrics.rst",
            category="Accuracy",
        ),
    log:
        P.log("metrics_table"),
    conda:
        "../envs/report.yaml"
    params:
        made_from=made_from("metrics_table"),
        weights=config["weights"]["source"],
        dataset=DATASET,
        backend=BACKEND,
        variant=VARIANT.name,
        scales=S.scales_arg,
    shell:
        with_code(
            "metrics_table",
            'python "$HHRNET_SCRIPTS/report_tables.py" --metrics {input.metrics:q} '
            "--weights-source {params.weights} --dataset {params.dataset} "
            "--backend {params.backend} --variant {params.variant} --scales {params.scales} "
            "--manifests {input.manifests:q} --output {output:q} 2> {log:q}",
        )


rule plot_stage_times:
    input:
        stage_benchmarks,
    output:
        report(
            P.result("stage_times.png"),
            caption="../report/stage_times.rst",
            category="Time per stage",
        ),
    log:
        P.log("plot_stage_times"),
    conda:
        "../envs/report.yaml"
    params:
        made_from=made_from("plot_stage_times"),
    shell:
        with_code(
            "plot_stage_times",
            'python "$HHRNET_SCRIPTS/plot_stage_times.py" --output {output:q} {input:q} 2> {log:q}',
        )


rule draw_skeletons:
    input:
        annotations=ANNOTATIONS,
        images=IMAGES,
        results=rules.gather_results.output[0],
    output:
        report(
            directory(P.result("drawings")),
            patterns=["{name}.jpg"],
            caption="../report/drawings.rst",
            category="Skeletons",
        ),
    log:
        P.log("draw_skeletons"),
    benchmark:
        P.bench("draw_skeletons")
    conda:
        "../envs/report.yaml"
    params:
        made_from=made_from("draw_skeletons"),
        drawings=config["report"]["drawings"],
    shell:
        with_code(
            "draw_skeletons",
            'python "$HHRNET_SCRIPTS/draw_skeletons.py" --annotations {input.annotations:q} '
            "--images {input.images:q} --results {input.results:q} --output-dir {output:q} "
            "--count {params.drawings} 2> {log:q}",
        )
