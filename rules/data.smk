# Data: COCO val2017 (guide layout, or download + unpack), the synthetic offline set, weights.

COCO_IMAGES_ZIP = "http://images.cocodataset.org/zips/val2017.zip"
COCO_ANN_ZIP = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"


rule download_coco_images:
    output:
        temp(f"{config['dataset']['download_dir']}/val2017.zip"),
    log:
        "logs/download/val2017.log",
    conda:
        "../envs/data.yaml"
    params:
        url=COCO_IMAGES_ZIP,
        md5="442b8da7639aecaf257c1dceb8ba8c80",
        size=815585330,
    shell:
        'python "$HHRNET_SCRIPTS/download.py" --url {params.url} --md5 {params.md5} '
        "--size {params.size} --output {output} 2> {log}"


rule download_coco_annotations:
    output:
        temp(f"{config['dataset']['download_dir']}/annotations_trainval2017.zip"),
    log:
        "logs/download/annotations_trainval2017.log",
    conda:
        "../envs/data.yaml"
    params:
        url=COCO_ANN_ZIP,
        md5="f4bbac642086de4f52a3fdda2de5fa2c",
        size=252907541,
    shell:
        'python "$HHRNET_SCRIPTS/download.py" --url {params.url} --md5 {params.md5} '
        "--size {params.size} --output {output} 2> {log}"


rule unpack_coco:
    input:
        images=rules.download_coco_images.output[0],
        annotations=rules.download_coco_annotations.output[0],
    output:
        annotations=f"{config['dataset']['download_dir']}/annotations/person_keypoints_val2017.json",
        images=directory(f"{config['dataset']['download_dir']}/images/val2017"),
    log:
        "logs/download/unpack_coco.log",
    conda:
        "../envs/data.yaml"
    params:
        root=lambda wildcards, output: Path(output.annotations).parents[1],
    shell:
        'python "$HHRNET_SCRIPTS/unpack_coco.py" --images-zip {input.images} '
        "--annotations-zip {input.annotations} --root {params.root} 2> {log}"


rule make_synthetic_dataset:
    output:
        annotations="resources/synthetic/annotations.json",
        images=directory("resources/synthetic/images"),
    log:
        "logs/data/make_synthetic_dataset.log",
    conda:
        "../envs/data.yaml"
    params:
        num_images=config["dataset"]["synthetic_images"],
        seed=config["dataset"]["synthetic_seed"],
    shell:
        'python "$HHRNET_SCRIPTS/make_synthetic_dataset.py" --images {output.images} '
        "--annotations {output.annotations} --num-images {params.num_images} "
        "--seed {params.seed} 2> {log}"


rule download_weights:
    output:
        OFFICIAL_WEIGHTS,
    log:
        "logs/download/weights.log",
    conda:
        "../envs/data.yaml"
    params:
        url=config["weights"]["url"],
        md5=config["weights"]["md5"],
    shell:
        'python "$HHRNET_SCRIPTS/download.py" --url={params.url:q} --md5={params.md5:q} '
        "--check-state-dict --output {output} 2> {log}"


rule make_synthetic_weights:
    output:
        SYNTHETIC_WEIGHTS,
    log:
        "logs/model/make_synthetic_weights.log",
    conda:
        "../envs/model.yaml"
    shell:
        'python "$HHRNET_SCRIPTS/make_synthetic_weights.py" --output {output} 2> {log}'
