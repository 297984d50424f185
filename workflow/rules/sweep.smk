rule plan_sweep:
    input:
        config["sweep"]["file"],
    output:
        report(
            "results/sweep/points.tsv",
            caption="../report/points.rst",
            category="Sweep",
        ),
    params:
        rows=PLAN.rows(),
        names=SPEC.names,
    log:
        "results/logs/plan_sweep.log",
    script:
        "../scripts/plan_sweep.py"


rule train:
    input:
        train="results/split/train.npz",
        val="results/split/val.npz",
        labels="results/data/labels.json",
    output:
        model=POINT_DIR + "/model.pt",
        history=POINT_DIR + "/history.csv",
        metrics=POINT_DIR + "/metrics.json",
    params:
        hp=hparams,
        tracking=tracking_params(),
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_count,
    log:
        "results/logs/train/{point}.log",
    benchmark:
        "results/benchmarks/train/{point}.tsv"
    script:
        "../scripts/train.py"


rule learning_curve:
    input:
        POINT_DIR + "/history.csv",
    output:
        report(
            POINT_DIR + "/learning_curve.svg",
            caption="../report/learning_curve.rst",
            category="Sweep",
            subcategory="Learning curves",
            labels=point_label,
        ),
    params:
        title=point_title,
    log:
        "results/logs/learning_curve/{point}.log",
    script:
        "../scripts/learning_curve.py"
