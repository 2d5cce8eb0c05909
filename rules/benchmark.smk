# Per-shape performance of the configured backend, as the guide reports it (images/s, latency).
# Ascend: `python3 -m ais_bench --loop N --warmup_count W` per compiled shape; elsewhere the
# infer stage's engine. The table goes into the report beside the guide's 185.28 fps.


rule benchmark_model:
    input:
        model=backend_model(),
    output:
        json=f"{RUN}/benchmark_model.json",
        html=report(
            f"{RUN}/benchmark_model.html",
            caption="../report/benchmark_model.rst",
            category="Performance",
        ),
    log:
        f"logs/{DATASET}/{BACKEND}/benchmark_model.log",
    conda:
        f"../envs/{BACKEND}.yaml"
    threads: config["infer"]["threads"]
    resources:
        **infer_resources(),
    params:
        backend=BACKEND,
        args=benchmark_args(),
        shapes=config["benchmark_model"]["shapes"],
        loops=config["benchmark_model"]["loops"],
        warmup=config["benchmark_model"]["warmup"],
        workdir=BENCH_WORK,
    shell:
        with_code(
            "benchmark_model",
            'python "$HHRNET_SCRIPTS/benchmark_model.py" --backend {params.backend} '
            "--model {input.model:q} --shapes {params.shapes} --loops {params.loops} "
            "--warmup {params.warmup} --workdir {params.workdir:q} {params.args} "
            "--output {output.json:q} --html {output.html:q} 2> {log:q}",
        )
