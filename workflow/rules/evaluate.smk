# Everything here reads the per-point results themselves (metrics.json), never summary.tsv: the
# summary is a report for people, and editing it cannot change which point is tested.
# Each rule also takes the points table: when the sweep's points change, everything that lists them is
# redone, even when no pack has to train (Snakemake checks a job's own parameters only when the jobs
# before it are checked: packs whose ancient() split was rewritten hide them).


rule summarize:
    input:
        points="results/sweep/points.tsv",
        metrics=per_point("results/points/{point}/metrics.json"),
    output:
        report(
            "results/summary.tsv",
            caption="../report/summary.rst",
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
        min_class_rows=config["evaluate"]["min_class_rows"],
    script:
        "../scripts/summarize.py"


rule baseline:
    input:
        **BASELINE_DATA,
    output:
        **BASELINE_CV,
        scores="results/baseline/test_scores.tsv",
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
        points="results/sweep/points.tsv",
        metrics=per_point("results/points/{point}/metrics.json"),
    output:
        ranking=report(
            "results/plots/ranking.svg",
            caption="../report/ranking.rst",
            category="Summary",
        ),
        curves=report(
            "results/plots/top_learning_curves.svg",
            caption="../report/top_learning_curves.rst",
            category="Summary",
        ),
        params=report(
            "results/plots/val_auc_by_param.svg",
            caption="../report/val_auc_by_param.rst",
            category="Summary",
        ),
    log:
        "results/logs/plot_sweep.log",
    # The longest of the jobs after training: started first, it ends with the others.
    priority: 1
    conda:
        "../../environment.yml"
    params:
        names=SPEC.names,
        metric=SPEC.metric,
        goal=SPEC.goal,
        top=config["evaluate"]["top"],
        min_class_rows=config["evaluate"]["min_class_rows"],
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
        points="results/sweep/points.tsv",
        metrics=per_point("results/points/{point}/metrics.json"),
        # For the order only (ancient: a newer summary, e.g. edited by hand, changes no choice).
        # Paths, not rules.<name>.output: those make Snakemake hash the 10,000-item list of
        # metrics once per item (a dry run of 10,000 points took 15 s instead of 7).
        after=[ancient(f) for f in RUN_OUTPUTS if f not in rules.plot_sweep.output],
    output:
        "results/sweep/chosen.json",
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
            labels="results/data/labels.json",
        output:
            metrics="results/final/{point}/metrics.json",
        log:
            "results/logs/final/{point}.log",
        benchmark:
            "results/benchmarks/final/{point}.tsv"
        conda:
            "../../environment.yml"
        threads: config["train"]["threads"]
        resources:
            gpu=lambda wildcards: int(
                PLAN.by_id[wildcards.point]["hparams"]["accelerator"] == "gpu"
            ),
            mem_mb=lambda wildcards, input, attempt: mem_mb_for_data(
                base=mem_base(PLAN.by_id[wildcards.point]["hparams"]["accelerator"]),
                per_input_mb=4,
            )(wildcards, input, attempt),
            runtime=lambda wildcards, input, attempt: runtime_minutes(
                [PLAN.by_id[wildcards.point]["hparams"]["max_epochs"]], input, attempt
            ),
            cpus_per_task=config["train"]["threads"],
        params:
            member=final_member,
            logs_dir="results/logs/final",
            torch_threads=config["train"]["threads"],
        script:
            "../scripts/train_final.py"


rule evaluate_best:
    input:
        unpack(chosen_point),
        **TEST_DATA,
        baseline="results/baseline/test_scores.tsv",
    output:
        best=report(
            "results/best.json",
            caption="../report/best.rst",
            category="Summary",
        ),
        roc=report(
            "results/plots/test_roc.svg",
            caption="../report/test_roc.rst",
            category="Summary",
        ),
        predictions="results/best_test_predictions.tsv",
    log:
        "results/logs/evaluate_best.log",
    benchmark:
        "results/benchmarks/evaluate_best.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=mem_mb_for_data(base=700, per_input_mb=8),
    params:
        names=SPEC.names,
        bootstrap=config["evaluate"]["bootstrap"],
        seed=config["evaluate"]["seed"],
        min_class_rows=config["evaluate"]["min_class_rows"],
    script:
        "../scripts/evaluate_best.py"
