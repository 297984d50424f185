rule prepare_data:
    input:
        data_input,
    output:
        **L.DATA,
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
        **L.DATA,
    output:
        # With units (folds, seeds) also the rows outside the test split, unscaled, with their folds.
        **{k: v for k, v in L.SPLIT.items() if k != "cv" or PLAN.units},
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
