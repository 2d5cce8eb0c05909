# Model: .pth -> ONNX (dynamic N, H, W) -> ATC .om (Ascend only), for model.variant; the .om
# holds the input shapes of the variant's size and the test's scales.


rule export_onnx:
    input:
        weights=WEIGHTS,
    output:
        P.onnx,
    log:
        "logs/model/export_onnx.log",
    benchmark:
        "benchmarks/model/export_onnx.tsv"
    priority: 30
    conda:
        "../envs/model.yaml"
    threads: total_cores(2)  # the model first, alone: higherhrnet.workflow.scheduling
    resources:
        mem_mb=6000,
        runtime=20,
    params:
        opset=config["export"]["opset"],
        variant=VARIANT.name,
    shell:
        with_code(
            "export_onnx",
            'python "$HHRNET_SCRIPTS/export_onnx.py" --weights {input.weights:q} '
            "--onnx-path {output:q} --opset {params.opset} --variant {params.variant} "
            "2> {log:q}",
        )


rule compile_om:
    input:
        onnx=P.onnx,
    output:
        P.om,
    log:
        "logs/model/compile_om.log",
    benchmark:
        "benchmarks/model/compile_om.tsv"
    priority: 30
    conda:
        "../envs/ascend.yaml"
    threads: total_cores(4)
    resources:
        mem_mb=16000,
        runtime=60,
    params:
        made_from=made_from("model"),
        prefix=lambda wildcards, output: output[0][: -len(".om")],
        soc=config["ascend"]["soc_version"],
        policy=S.compiled_policy,
        cann_env=config["ascend"]["cann_env"],
        precision=config["ascend"]["precision_mode"],
        extra=config["ascend"]["atc_extra_args"],
        shapes=SHAPE_ARGS,
    shell:
        with_code(
            "compile_om",
            'python "$HHRNET_SCRIPTS/compile_om.py" --onnx {input.onnx:q} --output {params.prefix:q} '
            "--soc-version {params.soc} --shape-policy {params.policy} {params.shapes} "
            "--cann-env={params.cann_env:q} --precision-mode={params.precision:q} "
            "--extra-args={params.extra:q} --log {log:q}",
        )


rule tune_om:
    input:
        onnx=P.onnx,
    output:
        P.om_aoe,
    log:
        f"logs/model/tune_om_{S.aoe}.log",
    benchmark:
        f"benchmarks/model/tune_om_{S.aoe}.tsv"
    priority: 30
    conda:
        "../envs/ascend.yaml"
    threads: total_cores(4)
    resources:
        mem_mb=16000,
        runtime=600,
        npu=1,
    params:
        made_from=made_from("model"),
        prefix=lambda wildcards, output: output[0][: -len(".om")],
        mode=S.aoe,
        policy=S.compiled_policy,
        cann_env=config["ascend"]["cann_env"],
        extra=config["ascend"]["aoe_extra_args"],
        shapes=SHAPE_ARGS,
    shell:
        with_code(
            "tune_om",
            'python "$HHRNET_SCRIPTS/tune_om.py" --onnx {input.onnx:q} --output {params.prefix:q} '
            "--mode {params.mode} --shape-policy {params.policy} {params.shapes} "
            "--cann-env={params.cann_env:q} --extra-args={params.extra:q} --log {log:q} 2> {log:q}",
        )


# NVIDIA: the TensorRT engines of the run configuration (infer.precision, infer.batch_size,
# infer.tensorrt_profiles, the shape set ATC compiles), built once by ONNX Runtime's TensorRT
# provider with its engine and timing caches (higherhrnet.inference.tensorrt_engines); the
# infer and benchmark_model jobs only load them. Rule only when onnxruntime_provider: tensorrt.


rule build_trt_engines:
    input:
        onnx=P.onnx,
    output:
        P.trt_engines,
    log:
        f"logs/model/{VARIANT.name}/build_trt_engines_{S.trt_tag}.log",
    benchmark:
        f"benchmarks/model/{VARIANT.name}/build_trt_engines_{S.trt_tag}.tsv"
    priority: 30
    conda:
        "../envs/gpu.yaml"
    threads: total_cores(2)
    resources:
        mem_mb=16000,
        runtime=60,
        gpu=1,
    params:
        args=args.trt_build_args(config, S),
    shell:
        with_code(
            "build_trt_engines",
            'python "$HHRNET_SCRIPTS/build_trt_engines.py" --onnx {input.onnx:q} '
            "--output {output:q} {params.args} --threads {threads} 2> {log:q}",
        )
