rule prepare_data:
    input:
        data_input,
    output:
        table="results/data/table.tsv",
        labels="results/data/labels.json",
    log:
        "results/logs/prepare_data.log",
    conda:
        "../../environment.yml"
    params:
        source=config["data"]["source"],
        target=config["data"]["target"],
        positive_class=config["data"]["positive_class"],
        exclude=config["data"]["exclude"],
        drop_missing=config["data"]["drop_missing"],
        sha256=config["data"]["sha256"],
        max_download_mb=config["data"]["max_download_mb"],
    script:
        "../scripts/prepare_data.py"


rule split:
    input:
        table="results/data/table.tsv",
        labels="results/data/labels.json",
    output:
        train="results/split/train.npz",
        val="results/split/val.npz",
        test="results/split/test.npz",
        assignment="results/split/assignment.tsv",
        scaler="results/split/scaler.json",
    log:
        "results/logs/split.log",
    conda:
        "../../environment.yml"
    params:
        fractions=config["split"]["fractions"],
        seed=config["split"]["seed"],
        standardize=config["split"]["standardize"],
    script:
        "../scripts/split.py"
