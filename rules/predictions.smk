# Own images and videos (dataset.name images | video): a listing per shard before the shared
# preprocess rules (list_images for a folder, extract_frames for a video), and after
# gather_results predictions with file names / timestamps, drawings or an annotated video,
# and a report without metrics.

LISTINGS = targets.shard_paths(P.listing, SHARD_IDS)


# predictions joins the gathered results with the listings, predictions_report writes a page
# and one grid; list_images (per shard) reads its shard's images once. draw_predictions
# (every image by default) and extract_frames / annotate_video (decode / encode the video)
# are cluster jobs.
localrules:
    predictions,
    predictions_report,


rule predictions:
    input:
        results=rules.gather_results.output[0],
        listings=LISTINGS,
    output:
        predictions=P.result("predictions.json"),
        keypoints=P.result("keypoints.csv"),
        index=P.result(targets.own_index(S)),
        unreadable=P.result("unreadable.txt"),
    log:
        P.log("predictions"),
    benchmark:
        P.bench("predictions")
    conda:
        "../envs/postprocess.yaml"
    params:
        joints=S.keypoints,
        made_from=made_from("predictions"),
    shell:
        with_code(
            "predictions",
            'python "$HHRNET_SCRIPTS/predictions.py" --results {input.results:q} '
            "--predictions {output.predictions:q} --keypoints {output.keypoints:q} "
            "--index {output.index:q} --unreadable {output.unreadable:q} "
            "--joints {params.joints} {input.listings:q} 2> {log:q}",
        )


if DATASET == "images":

    localrules:
        list_images,

    rule list_images:
        input:
            # the shard's image files: a changed or added image re-runs only its listing
            lambda wildcards: targets.shard_image_files(
                config["dataset"]["images"],
                INPUTS.folder_images,
                int(wildcards.shard),
                NSHARDS,
            ),
        output:
            P.listing,
        log:
            P.log("list_images/shard{shard}", per_backend=False),
        benchmark:
            P.bench("list_images/shard{shard}", per_backend=False)
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
            listings=LISTINGS,
        output:
            directory(P.result("skeletons")),
        log:
            P.log("draw_predictions"),
        benchmark:
            P.bench("draw_predictions")
        conda:
            "../envs/report.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            made_from=made_from("draw_predictions"),
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
            frames=maybe_temp(directory(P.frames), "preprocessed"),
            listing=P.listing,
        log:
            P.log("extract_frames/shard{shard}", per_backend=False),
        benchmark:
            P.bench("extract_frames/shard{shard}", per_backend=False)
        conda:
            "../envs/data.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
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
                P.result("annotated.mp4"),
                caption="../report/annotated_video.rst",
                category="Skeletons",
            ),
            drawings=directory(P.result("skeletons")),
        log:
            P.log("annotate_video"),
        benchmark:
            P.bench("annotate_video")
        conda:
            "../envs/report.yaml"
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            made_from=made_from("annotate_video"),
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
        drawings=P.result("skeletons"),
        benchmarks=stage_benchmarks,
        # the images the shape policy cropped (Manifest.cropped)
        manifests=targets.scale_shard_paths(P.manifest("prep"), GEOS[0], SHARD_IDS),
    output:
        html=report(
            P.result("summary.html"),
            caption="../report/summary.rst",
            category="Predictions",
        ),
        grid=report(
            P.result("drawings_grid.jpg"),
            caption="../report/drawings.rst",
            category="Skeletons",
        ),
    log:
        P.log("predictions_report"),
    conda:
        "../envs/report.yaml"
    params:
        made_from=made_from("predictions_report"),
        grid=config["report"]["drawings"],
        dataset=DATASET,
        backend=BACKEND,
        weights=config["weights"]["source"],
        variant=VARIANT.name,
        scales=S.scales_arg,
    shell:
        with_code(
            "predictions_report",
            'python "$HHRNET_SCRIPTS/predictions_report.py" --predictions {input.predictions:q} '
            "--index {input.index:q} --drawings-dir {input.drawings:q} --count {params.grid} "
            "--grid {output.grid:q} --output {output.html:q} --dataset {params.dataset} "
            "--backend {params.backend} --weights-source {params.weights} "
            "--variant {params.variant} --scales {params.scales} "
            "--manifests {input.manifests:q} -- {input.benchmarks:q} 2> {log:q}",
        )
