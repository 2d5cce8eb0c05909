# Own images and videos (dataset.name images | video): a listing per shard before the shared
# preprocess rules (list_images for a folder, extract_frames for a video), and after
# gather_results predictions with file names / timestamps, drawings or an annotated video,
# and a report without metrics.


rule predictions:
    input:
        results=rules.gather_results.output[0],
        listings=shard_paths(LISTING),
    output:
        predictions=f"{RUN}/predictions.json",
        keypoints=f"{RUN}/keypoints.csv",
        index=OWN_INDEX,
        unreadable=f"{RUN}/unreadable.txt",
    log:
        f"logs/{DATASET}/{BACKEND}/predictions.log",
    conda:
        "../envs/postprocess.yaml"
    shell:
        with_code(
            "predictions",
            'python "$HHRNET_SCRIPTS/predictions.py" --results {input.results:q} '
            "--predictions {output.predictions:q} --keypoints {output.keypoints:q} "
            "--index {output.index:q} --unreadable {output.unreadable:q} "
            "{input.listings:q} 2> {log:q}",
        )


if DATASET == "images":

    rule list_images:
        input:
            folder_shard_files,
        output:
            LISTING,
        log:
            f"logs/{DATASET}/list_images/shard{{shard}}.log",
        benchmark:
            f"benchmarks/{DATASET}/list_images/shard{{shard}}.tsv"
        conda:
            "../envs/data.yaml"
        params:
            folder=config["dataset"]["images"],
            shards=NSHARDS,
        shell:
            with_code(
                "list_images",
                'python "$HHRNET_SCRIPTS/list_images.py" --folder {params.folder:q} '
                "--shard {wildcards.shard} --num-shards {params.shards} --output {output:q} "
                "2> {log:q}",
            )

    rule draw_predictions:
        input:
            predictions=rules.predictions.output.predictions,
            listings=shard_paths(LISTING),
        output:
            directory(OWN_DRAWINGS),
        log:
            f"logs/{DATASET}/{BACKEND}/draw_predictions.log",
        benchmark:
            f"benchmarks/{DATASET}/{BACKEND}/draw_predictions.tsv"
        conda:
            "../envs/report.yaml"
        params:
            folder=config["dataset"]["images"],
            drawings=config["predictions"]["drawings"],
        shell:
            with_code(
                "draw_predictions",
                'python "$HHRNET_SCRIPTS/draw_predictions.py" --images {params.folder:q} '
                "--predictions {input.predictions:q} --output-dir {output:q} "
                "--count {params.drawings} {input.listings:q} 2> {log:q}",
            )


if DATASET == "video":

    rule extract_frames:
        input:
            config["dataset"]["video"],
        output:
            frames=maybe_temp(directory(FRAMES), "preprocessed"),
            listing=LISTING,
        log:
            f"logs/{DATASET}/extract_frames/shard{{shard}}.log",
        benchmark:
            f"benchmarks/{DATASET}/extract_frames/shard{{shard}}.tsv"
        conda:
            "../envs/data.yaml"
        resources:
            mem_mb=2000,
        params:
            stride=config["dataset"]["frame_stride"],
            max_frames=config["dataset"]["max_frames"],
            shards=NSHARDS,
        shell:
            with_code(
                "extract_frames",
                'python "$HHRNET_SCRIPTS/extract_frames.py" --video {input:q} '
                "--frames-dir {output.frames:q} --listing {output.listing:q} "
                "--frame-stride {params.stride} --max-frames {params.max_frames} "
                "--shard {wildcards.shard} --num-shards {params.shards} 2> {log:q}",
            )

    rule annotate_video:
        input:
            video=config["dataset"]["video"],
            predictions=rules.predictions.output.predictions,
        output:
            video=report(
                f"{RUN}/annotated.mp4",
                caption="../report/annotated_video.rst",
                category="Skeletons",
            ),
            drawings=directory(OWN_DRAWINGS),
        log:
            f"logs/{DATASET}/{BACKEND}/annotate_video.log",
        benchmark:
            f"benchmarks/{DATASET}/{BACKEND}/annotate_video.tsv"
        conda:
            "../envs/report.yaml"
        params:
            stride=config["dataset"]["frame_stride"],
            max_frames=config["dataset"]["max_frames"],
            drawings=config["report"]["drawings"],
        shell:
            with_code(
                "annotate_video",
                'python "$HHRNET_SCRIPTS/annotate_video.py" --video {input.video:q} '
                "--predictions {input.predictions:q} --output {output.video:q} "
                "--drawings-dir {output.drawings:q} --drawings {params.drawings} "
                "--frame-stride {params.stride} --max-frames {params.max_frames} 2> {log:q}",
            )


rule predictions_report:
    input:
        predictions=rules.predictions.output.predictions,
        index=rules.predictions.output.index,
        drawings=OWN_DRAWINGS,
        benchmarks=stage_benchmarks,
    output:
        html=report(
            f"{RUN}/summary.html",
            caption="../report/summary.rst",
            category="Predictions",
        ),
        grid=report(
            f"{RUN}/drawings_grid.jpg",
            caption="../report/drawings.rst",
            category="Skeletons",
        ),
    log:
        f"logs/{DATASET}/{BACKEND}/predictions_report.log",
    conda:
        "../envs/report.yaml"
    params:
        grid=config["report"]["drawings"],
        dataset=DATASET,
        backend=BACKEND,
        weights=config["weights"]["source"],
    shell:
        with_code(
            "predictions_report",
            'python "$HHRNET_SCRIPTS/predictions_report.py" --predictions {input.predictions:q} '
            "--index {input.index:q} --drawings-dir {input.drawings:q} --count {params.grid} "
            "--grid {output.grid:q} --output {output.html:q} --dataset {params.dataset} "
            "--backend {params.backend} --weights-source {params.weights} "
            "{input.benchmarks:q} 2> {log:q}",
        )
