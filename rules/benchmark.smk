# Per-shape performance of the configured backend, as the guide reports it (images/s, latency).
# Ascend: `python3 -m ais_bench --loop N --warmup_count W` per compiled shape; elsewhere the
# infer stage's engine. The table goes into the report beside the guide's 185.28 fps.
# It measures the shapes the run's images use (the preprocess manifests), within
# benchmark_model.share of the run's inferences, and starts only once the metrics (own data:
# the predictions) are written: no result waits for it, and new metrics re-run no benchmark
# (ancient()). The manifests are plain inputs: Snakemake checks no params of a job whose
# only inputs from a re-run job are ancient() (dag.update_needrun masks it), so a re-made
# manifest re-runs the benchmark (at most benchmark_model.share of the run's inferences).


rule benchmark_model:
    input:
        model=MODEL,
        manifests=targets.all_shards_and_scales(P.manifest("prep"), SHARD_IDS, GEOS),
        after=ancient(targets.benchmark_after(S, P)),
        engines=ENGINES,
    output:
        json=P.result("benchmark_model.json"),
        html=report(
            P.result("benchmark_model.html"),
            caption="../report/benchmark_model.rst",
            category="Performance",
        ),
    log:
        P.log("benchmark_model"),
    benchmark:
        P.bench("benchmark_model")
    conda:
        INFER_ENV
    threads: config["infer"]["threads"]
    resources:
        **args.infer_resources(S),
    params:
        made_from=made_from("benchmark_model"),
        backend=BACKEND,
        args=args.benchmark_args(config, S),
        engines=ENGINES_FLAG,
        batch_sizes=args.benchmark_batch_sizes(config),
        shapes=config["benchmark_model"]["shapes"],
        loops=config["benchmark_model"]["loops"],
        warmup=config["benchmark_model"]["warmup"],
        share=config["benchmark_model"]["share"],
        workdir=P.result("benchmark_model_work"),
    shell:
        with_code(
            "benchmark_model",
            'python "$HHRNET_SCRIPTS/benchmark_model.py" --backend {params.backend} '
            "--model {input.model:q} --shapes {params.shapes} --loops {params.loops} "
            "--warmup {params.warmup} --share {params.share} --manifests {input.manifests:q} "
            "--workdir {params.workdir:q} --threads {threads} {params.args} "
            "{params.engines} {params.batch_sizes} "
            '--devices "$HHRNET_DEVICES" '
            "--output {output.json:q} --html {output.html:q} 2> {log:q}",
        )
