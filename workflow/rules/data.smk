rule prepare_data:
    input:
        data_input,
    output:
        table="results/data/table.tsv",
        labels="results/data/labels.json",
    log:
        "results/logs/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=mem_mb_for_data(base=500, per_input_mb=6),
    params:
        # A mapping, not strings: Snakemake would read '{' in a column name as a wildcard.
        data=config["data"],
    script:
        "../scripts/prepare_data.py"


rule split:
    input:
        table="results/data/table.tsv",
        labels="results/data/labels.json",
    output:
        **SPLIT_CV,
        train="results/split/train.npz",
        val="results/split/val.npz",
        test="results/split/test.npz",
        assignment="results/split/assignment.tsv",
        scaler="results/split/scaler.json",
    log:
        "results/logs/split.log",
    benchmark:
        "results/benchmarks/split.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=mem_mb_for_data(base=500, per_input_mb=6),
    params:
        fractions=config["split"]["fractions"],
        seed=config["split"]["seed"],
        standardize=config["split"]["standardize"],
        folds=PLAN.folds,
        repeats=PLAN.repeats,
    script:
        "../scripts/split.py"
