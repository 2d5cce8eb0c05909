# Data: COCO val2017 (guide layout, or download + unpack), the synthetic offline set, weights.
# URLs, sizes and md5s of the COCO zips come from higherhrnet.data.download (`download`,
# imported in common.smk).


# downloads from the submitting host (cluster nodes often have no internet access); the
# synthetic set is a few generated images
localrules:
    download_coco_images,
    download_coco_annotations,
    download_weights,
    make_synthetic_dataset,


rule download_coco_images:
    output:
        coco_zip(download.COCO_VAL2017_IMAGES),
    log:
        "logs/download/val2017.log",
    conda:
        "../envs/data.yaml"
    params:
        url=download.COCO_VAL2017_IMAGES.url,
        md5=download.COCO_VAL2017_IMAGES.md5,
        size=download.COCO_VAL2017_IMAGES.size,
    shell:
        'python "$HHRNET_SCRIPTS/download.py" --url {params.url} --md5 {params.md5} '
        "--size {params.size} --output {output:q} 2> {log:q}"


use rule download_coco_images as download_coco_annotations with:
    output:
        coco_zip(download.COCO_ANNOTATIONS_TRAINVAL2017),
    log:
        "logs/download/annotations_trainval2017.log",
    params:
        url=download.COCO_ANNOTATIONS_TRAINVAL2017.url,
        md5=download.COCO_ANNOTATIONS_TRAINVAL2017.md5,
        size=download.COCO_ANNOTATIONS_TRAINVAL2017.size,


rule unpack_coco:
    input:
        images=rules.download_coco_images.output[0],
        annotations=rules.download_coco_annotations.output[0],
    output:
        annotations=str(download.coco_layout(config["dataset"]["download_dir"])[0]),
        images=directory(
            str(download.coco_layout(config["dataset"]["download_dir"])[1])
        ),
    log:
        "logs/download/unpack_coco.log",
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=lambda wildcards, output: Path(output.annotations).parents[1],
        checks=args.coco_zip_checks(),
    shell:
        'python "$HHRNET_SCRIPTS/unpack_coco.py" --images-zip {input.images:q} '
        "--annotations-zip {input.annotations:q} --root {params.root:q} {params.checks} "
        "2> {log:q}"


rule make_synthetic_dataset:
    output:
        annotations=P.synthetic_annotations,
        images=directory(P.synthetic_images),
    log:
        "logs/data/make_synthetic_dataset.log",
    conda:
        "../envs/data.yaml"
    params:
        num_images=config["dataset"]["synthetic_images"],
        seed=config["dataset"]["synthetic_seed"],
        keypoints=S.keypoints,
    shell:
        with_code(
            "make_synthetic_dataset",
            'python "$HHRNET_SCRIPTS/make_synthetic_dataset.py" --images {output.images:q} '
            "--annotations {output.annotations:q} --num-images {params.num_images} "
            "--seed {params.seed} --keypoints {params.keypoints} 2> {log:q}",
        )


# update(): a url/md5 edit re-runs this job without Snakemake deleting the verified file;
# download.py --update keeps it when it passes the new md5, else replaces it only once the
# new download is verified (an offline failure leaves it as it was).
rule download_weights:
    output:
        update(P.official_weights),
    log:
        "logs/download/weights.log",
    priority: 30
    conda:
        "../envs/data.yaml"
    threads: total_cores(1)  # the model first, alone: higherhrnet.workflow.scheduling
    params:
        url=config["weights"]["url"],
        md5=config["weights"]["md5"],
    shell:
        'python "$HHRNET_SCRIPTS/download.py" --url={params.url:q} --md5={params.md5:q} '
        "--check-state-dict --update --output {output:q} 2> {log:q}"


rule make_synthetic_weights:
    output:
        P.synthetic_weights,
    log:
        (
            "logs/model/make_synthetic_weights.log"
            if S.synthetic_layout == "w32_512"
            else f"logs/model/make_synthetic_weights_{S.synthetic_layout}.log"
        ),
    priority: 30
    conda:
        "../envs/model.yaml"
    threads: total_cores(1)
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        layout=S.synthetic_layout,
    shell:
        with_code(
            "make_synthetic_weights",
            'python "$HHRNET_SCRIPTS/make_synthetic_weights.py" --output {output:q} '
            "--variant {params.layout} 2> {log:q}",
        )
