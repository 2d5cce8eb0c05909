# Per-shape performance of the configured backend, as the guide reports it (images/s, latency).
# Ascend: `python3 -m ais_bench --loop N --warmup_count W` per compiled shape; elsewhere the
# infer stage's engine. The table goes into the report beside the guide's 185.28 fps.


rule benchmark_model:
    input:
        model=MODEL,
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
        **args.infer_resources(config, S),
    params:
        backend=BACKEND,
        args=args.benchmark_args(config, S),
        engines=ENGINES_FLAG,
        batch_sizes=args.benchmark_batch_sizes(config),
        shapes=config["benchmark_model"]["shapes"],
        loops=config["benchmark_model"]["loops"],
        warmup=config["benchmark_model"]["warmup"],
        workdir=P.result("benchmark_model_work"),
    shell:
        with_code(
            "benchmark_model",
            'python "$HHRNET_SCRIPTS/benchmark_model.py" --backend {params.backend} '
            "--model {input.model:q} --shapes {params.shapes} --loops {params.loops} "
            "--warmup {params.warmup} --workdir {params.workdir:q} --threads {threads} "
            "{params.args} {params.engines} {params.batch_sizes} "
            "--output {output.json:q} --html {output.html:q} 2> {log:q}",
        )
