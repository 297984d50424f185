rule summarize:
    input:
        points="results/sweep/points.tsv",
        metrics=per_point(POINT_DIR + "/metrics.json"),
    output:
        report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="Summary",
        ),
    params:
        metric=SPEC.metric,
        goal=SPEC.goal,
    log:
        "results/logs/summarize.log",
    script:
        "../scripts/summarize.py"


rule evaluate_best:
    input:
        summary="results/summary.tsv",
        models=per_point(POINT_DIR + "/model.pt"),
        metrics=per_point(POINT_DIR + "/metrics.json"),
        train="results/split/train.npz",
        val="results/split/val.npz",
        test="results/split/test.npz",
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
    params:
        points=POINTS,
        metric=SPEC.metric,
        goal=SPEC.goal,
        bootstrap=config["evaluate"]["bootstrap"],
        seed=config["evaluate"]["seed"],
    log:
        "results/logs/evaluate_best.log",
    benchmark:
        "results/benchmarks/evaluate_best.tsv"
    script:
        "../scripts/evaluate_best.py"


rule plot_sweep:
    input:
        summary="results/summary.tsv",
        histories=per_point(POINT_DIR + "/history.csv"),
    output:
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
    params:
        points=POINTS,
        metric=SPEC.metric,
        top=config["evaluate"]["top"],
    log:
        "results/logs/plot_sweep.log",
    script:
        "../scripts/plot_sweep.py"
