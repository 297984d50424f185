# Adaptive sweeps (method bayes, early_terminate hyperband, metric.target): rounds of points, each
# proposed from the points finished before it, and rungs of successive halving within a round. Every
# decision is a checkpoint writing a small JSON file; the training itself runs in packs, as for a
# sweep planned upfront. See src/snakesweep/rounds.py.


# Decisions and bookkeeping take seconds: they run where Snakemake runs. Only train_stage is submitted.
localrules:
    propose_round,
    select_rung,
    finish_round,
    collect_points,
    plot_rungs,
    points_table,


wildcard_constraints:
    round=r"\d+",
    rung=r"\d+",
    pack=r"[0-9a-f]{12}",


checkpoint propose_round:
    input:
        unpack(propose_inputs),
    output:
        "results/sweep/rounds/{round}.json",
    log:
        "results/logs/rounds/propose_{round}.log",
    conda:
        "../../environment.yml"
    params:
        settings=ROUNDS,
        # The round's own size, not sweep.count: raising the count leaves the rounds done untouched.
        size=round_size,
        start=round_start,
    script:
        "../scripts/propose_round.py"


checkpoint select_rung:
    input:
        unpack(rung_inputs),
    output:
        "results/sweep/rounds/{round}/rung{rung}.json",
    log:
        "results/logs/rounds/select_{round}_rung{rung}.log",
    conda:
        "../../environment.yml"
    params:
        # Only what the rung's decisions read: other settings' changes leave the rounds done alone.
        settings={
            k: ROUNDS[k]
            for k in ("spec_file", "pack_size", "own", "accelerator")
            if k in ROUNDS
        },
    script:
        "../scripts/select_rung.py"


rule train_stage:
    input:
        **STAGE_DATA,
        rung="results/sweep/rounds/{round}/rung{rung}.json",
        round_file="results/sweep/rounds/{round}.json",
    output:
        "results/sweep/rounds/{round}/rung{rung}/{pack}.json",
    log:
        "results/logs/rounds/{round}/rung{rung}/{pack}.log",
    benchmark:
        "results/benchmarks/rounds/{round}/rung{rung}/{pack}.tsv"
    conda:
        "../../environment.yml"
    threads: STAGE_THREADS
    resources:
        gpu=stage_gpu,
        mem_mb=stage_mem_mb,
        runtime=stage_runtime,
        cpus_per_task=STAGE_THREADS,
    params:
        own=own_settings() if OWN else None,
        errors=stage_errors,
        tracking=tracking_params(),
        wandb_dir="results/wandb",
        logs_dir="results/logs/train",
        torch_threads=config["train"]["threads"],
        bootstrap=config["evaluate"]["bootstrap"],
        bootstrap_seed=config["evaluate"]["seed"],
    script:
        "../scripts/train_stage.py"


stage_set_resources()


rule finish_round:
    input:
        unpack(finish_inputs),
    output:
        "results/sweep/rounds/{round}.done.json",
    log:
        "results/logs/rounds/finish_{round}.log",
    conda:
        "../../environment.yml"
    params:
        settings={"spec_file": ROUNDS["spec_file"]},
    script:
        "../scripts/finish_round.py"


# Snakemake does not look behind a checkpoint for new rounds while their table exists and is up to
# date (a changed parameter does not make it look either): the table of a sweep of N points is its own
# file, so a new sweep.count is a missing file, which makes it look. points.tsv is its copy.
rule collect_points:
    input:
        unpack(collect_inputs),
    output:
        f"results/sweep/rounds/points-{PLAN.total}.tsv",
    log:
        "results/logs/collect_points.log",
    conda:
        "../../environment.yml"
    params:
        names=SPEC.names,
    script:
        "../scripts/collect_points.py"


rule points_table:
    input:
        f"results/sweep/rounds/points-{PLAN.total}.tsv",
    output:
        report(
            "results/sweep/points.tsv",
            caption="../report/points.rst",
            category="Sweep",
        ),
    log:
        "results/logs/points_table.log",
    run:
        shutil.copyfile(input[0], output[0])


rule plot_rungs:
    input:
        points="results/sweep/points.tsv",
    output:
        report(
            "results/plots/rungs.svg",
            caption="../report/rungs.rst",
            category="Summary",
        ),
    log:
        "results/logs/plot_rungs.log",
    conda:
        "../../environment.yml"
    params:
        metric=SPEC.metric,
        bands=list(SPEC.hyperband.bands) if SPEC.hyperband else [],
    script:
        "../scripts/plot_rungs.py"
