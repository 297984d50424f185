# The user's own program (W&B's `program`/`command` in the sweep file): one run per point, as W&B's
# agent would start it, offline; the summary ranks the points by the metric the program logs. See
# src/snakesweep/own.py and agent.py.


# Seconds of work on small files: where Snakemake runs. Only the program's runs are submitted.
localrules:
    summarize,


# One rule per pack, as for the built-in trainer (rules/sweep.smk): outputs update(), so a pack rerun
# for one missing point keeps the others.
for pack in PACKS:

    rule:
        name:
            f"run_{pack.id}"
        output:
            metrics=[update(f"results/points/{p}/metrics.json") for p in pack.points],
        log:
            f"results/logs/packs/{pack.id}.log",
        benchmark:
            f"results/benchmarks/packs/{pack.id}.tsv"
        conda:
            "../../environment.yml"
        threads: PROGRAM["threads"]
        resources:
            gpu=PROGRAM["gpu"],
            mem_mb=lambda wildcards, attempt: PROGRAM["mem_mb"] * attempt,
            # Each run may take program.runtime minutes (then it is stopped): the pack, all of them.
            runtime=lambda wildcards, attempt, n=len(pack.points): PROGRAM["runtime"]
            * n
            * attempt
            + 1,
            cpus_per_task=PROGRAM["threads"],
        params:
            pack=pack.id,
            members=[PLAN.by_id[p] for p in pack.points],
            logs_dir="results/logs/train",
            settings=own_settings(),
        script:
            "../scripts/run_own_pack.py"


rule summarize:
    input:
        points="results/sweep/points.tsv",
        metrics=per_point("results/points/{point}/metrics.json"),
    output:
        summary=report(
            "results/summary.tsv",
            caption="../report/own_summary.rst",
            category="Summary",
        ),
        best="results/best.json",
        params=report(
            "results/plots/metric_by_param.svg",
            caption="../report/own_metric_by_param.rst",
            category="Summary",
        ),
        curves=report(
            "results/plots/top_learning_curves.svg",
            caption="../report/own_top_curves.rst",
            category="Summary",
        ),
    log:
        "results/logs/summarize.log",
    conda:
        "../../environment.yml"
    params:
        names=SPEC.names,
        metric=SPEC.metric,
        goal=SPEC.goal,
        top=config["evaluate"]["top"],
    script:
        "../scripts/own_summary.py"
