# Everything here reads the per-point results themselves (metrics.json), never summary.tsv: the
# summary is a report for people, and editing it cannot change which point is tested.
# Each rule also takes the points table: when the sweep's points change, everything that lists them is
# redone, even when no pack has to train (Snakemake checks a job's own parameters only when the jobs
# before it are checked: packs whose ancient() split was rewritten hide them).


rule interval_settings:
    output:
        L.INTERVALS,
    log:
        "results/logs/interval_settings.log",
    conda:
        "../../environment.yml"
    params:
        settings=interval_settings(),
    script:
        "../scripts/interval_settings.py"


rule summarize:
    input:
        **INTERVALS,
        points=L.POINTS_TABLE,
        metrics=POINT_METRICS,
    output:
        report(
            L.SUMMARY,
            caption="../report/own_summary.rst" if OWN else "../report/summary.rst",
            category="Summary",
        ),
    log:
        "results/logs/summarize.log",
    conda:
        "../../environment.yml"
    params:
        runner=RUNNER,
        settings=summary_settings(),
    script:
        "../scripts/summarize.py"


rule baseline:
    input:
        **BASELINE_DATA,
    output:
        **BASELINE_CV,
        scores=L.BASELINE_SCORES,
    log:
        "results/logs/baseline.log",
    benchmark:
        "results/benchmarks/baseline.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=mem_mb_for_data(base=700, per_input_mb=8),
    params:
        seeds=PLAN.seeds,
    script:
        "../scripts/baseline.py"


rule plot_sweep:
    input:
        **BASELINE_CV,
        **INTERVALS,
        points=L.POINTS_TABLE,
        metrics=POINT_METRICS,
    output:
        **{
            name: report(path, caption=f"../report/{caption}", category="Summary")
            for name, (path, caption) in SWEEP_PLOTS.items()
        },
    log:
        "results/logs/plot_sweep.log",
    # The longest of the jobs after training: started first, it ends with the others.
    priority: 1
    conda:
        "../../environment.yml"
    params:
        runner=RUNNER,
        settings=plot_settings(),
    script:
        "../scripts/plot_sweep.py"


# The choice is made on validation data and redone whenever a point is added; the test evaluation
# depends only on the choice (a checkpoint: Snakemake looks at its output again once it is written, and
# an unchanged choice has the same checksum), so it runs again only when the chosen point changes.
# It comes last: when a checkpoint finishes, Snakemake re-plans the jobs still waiting and can drop one
# that had to run (seen with summarize after switching data.source back), so none may be waiting but the
# test evaluation. plot_sweep, the longest, has the highest priority instead: it has started by then.
# The summary and plots are written before an error fails the run here.
checkpoint choose_best:
    input:
        points=L.POINTS_TABLE,
        metrics=POINT_METRICS,
        # For the order only (ancient: a newer summary, e.g. edited by hand, changes no choice).
        # Paths, not rules.<name>.output: those make Snakemake hash the 10,000-item list of
        # metrics once per item, which doubles a large sweep's dry run (benchmarks/README.md).
        after=[ancient(f) for f in RUN_OUTPUTS if f not in rules.plot_sweep.output],
    output:
        L.CHOSEN,
    log:
        "results/logs/choose_best.log",
    conda:
        "../../environment.yml"
    params:
        metric=SPEC.metric,
        goal=SPEC.goal,
    script:
        "../scripts/choose_best.py"


# With units (folds, seeds) the chosen configuration is trained again, on every row outside the test
# split, and that final model is the one tested. A pack of one: the same code, claims and logs.
if PLAN.units:

    rule train_final:
        input:
            **TRAIN_DATA,
        output:
            metrics=[L.final("{point}", "metrics")],
        log:
            "results/logs/final/{point}.log",
        benchmark:
            "results/benchmarks/final/{point}.tsv"
        conda:
            "../../environment.yml"
        threads: config["train"]["threads"]
        resources:
            gpu=lambda wildcards: pack_gpu(PLAN.hparams(wildcards.point)["accelerator"]),
            mem_mb=lambda wildcards, input, attempt: pack_mem_mb(
                PLAN.hparams(wildcards.point)["accelerator"]
            )(wildcards, input, attempt),
            runtime=lambda wildcards, input, attempt: R.runtime_minutes(
                [PLAN.hparams(wildcards.point)["max_epochs"]], input.size_mb, attempt
            ),
            cpus_per_task=config["train"]["threads"],
        params:
            runner=BUILTIN,
            pack=lambda wildcards: f"final-{wildcards.point}",
            members=final_member,
            logs_dir="results/logs/final",
            settings=final_settings(),
        script:
            "../scripts/train_pack.py"


# best.json for either runner; the ROC plot and the test predictions only for the built-in model (an
# own program splits its data itself: there is no test split here).
rule evaluate_best:
    input:
        unpack(chosen_point),
        unpack(evaluate_inputs),
    output:
        **(
            {}
            if OWN
            else {
                "roc": report(
                    L.plot("test_roc.svg"),
                    caption="../report/test_roc.rst",
                    category="Summary",
                ),
                "predictions": f"{L.RESULTS}/best_test_predictions.tsv",
            }
        ),
        best=report(
            L.BEST,
            caption="../report/best.rst",
            category="Summary",
        ),
    log:
        "results/logs/evaluate_best.log",
    benchmark:
        "results/benchmarks/evaluate_best.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=mem_mb_for_data(base=700, per_input_mb=8),
    params:
        runner=RUNNER,
        settings=evaluate_settings(),
    script:
        "../scripts/evaluate_best.py"


localrules:
    interval_settings,
