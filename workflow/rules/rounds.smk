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


wildcard_constraints:
    round=r"\d+",
    rung=r"\d+",
    pack=r"[0-9a-f]{12}",


checkpoint propose_round:
    input:
        unpack(propose_inputs),
    output:
        L.round_file("{round}"),
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
        L.rung_file("{round}", "{rung}"),
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
        **TRAIN_DATA,
        rung=L.rung_file("{round}", "{rung}"),
        round_file=L.round_file("{round}"),
    output:
        L.stage_record("{round}", "{rung}", "{pack}"),
    log:
        "results/logs/rounds/{round}/rung{rung}/{pack}.log",
    benchmark:
        "results/benchmarks/rounds/{round}/rung{rung}/{pack}.tsv"
    conda:
        "../../environment.yml"
    threads: THREADS
    resources:
        gpu=stage_gpu,
        mem_mb=stage_mem_mb,
        runtime=stage_runtime,
        cpus_per_task=THREADS,
    params:
        runner=RUNNER,
        errors=stage_errors,
        logs_dir="results/logs/train",
        settings=runner_settings(),
    script:
        "../scripts/train_stage.py"


apply_profile_resources_to_stages()


rule finish_round:
    input:
        unpack(finish_inputs),
    output:
        L.done_file("{round}"),
    log:
        "results/logs/rounds/finish_{round}.log",
    conda:
        "../../environment.yml"
    params:
        settings={"spec_file": config["sweep"]["file"]},
    script:
        "../scripts/finish_round.py"


# The table of every point the rounds trained (see COLLECTED in common.smk): points.tsv is its copy.
rule collect_points:
    input:
        unpack(collect_inputs),
    output:
        COLLECTED,
    log:
        "results/logs/collect_points.log",
    conda:
        "../../environment.yml"
    params:
        names=SPEC.names,
    script:
        "../scripts/collect_points.py"


rule plot_rungs:
    input:
        points=L.POINTS_TABLE,
    output:
        report(
            L.plot("rungs.svg"),
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
