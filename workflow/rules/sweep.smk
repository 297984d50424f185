rule plan_sweep:
    input:
        config["sweep"]["file"],
    output:
        report(
            "results/sweep/points.tsv",
            caption="../report/points.rst",
            category="Sweep",
        ),
    log:
        "results/logs/plan_sweep.log",
    conda:
        "../../environment.yml"
    params:
        rows=PLAN.rows(),
        names=SPEC.names,
    script:
        "../scripts/plan_sweep.py"


rule train:
    input:
        train="results/split/train.npz",
        val="results/split/val.npz",
        labels="results/data/labels.json",
    output:
        model="results/points/{point}/model.pt",
        history="results/points/{point}/history.csv",
        metrics="results/points/{point}/metrics.json",
    log:
        "results/logs/train/{point}.log",
    benchmark:
        "results/benchmarks/train/{point}.tsv"
    conda:
        "../../environment.yml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_count,
        mem_mb=mem_mb_for_data(base=700, per_input_mb=4),
    params:
        hp=hparams,
        swept=point_params,
        tracking=tracking_params(),
        wandb_dir="results/wandb",
        # torch uses exactly this many threads even if --cores is lower: thread count is part of the
        # point's id, since it changes float reduction order.
        torch_threads=config["train"]["threads"],
        # The validation ROC-AUC's interval follows the config too; changing these reruns training,
        # which rewrites identical weights and only the intervals change.
        bootstrap=config["evaluate"]["bootstrap"],
        bootstrap_seed=config["evaluate"]["seed"],
    script:
        "../scripts/train.py"


rule learning_curve:
    input:
        "results/points/{point}/history.csv",
    output:
        report(
            "results/points/{point}/learning_curve.svg",
            caption="../report/learning_curve.rst",
            category="Sweep",
            subcategory="Learning curves",
            labels=point_label,
        ),
    log:
        "results/logs/learning_curve/{point}.log",
    conda:
        "../../environment.yml"
    params:
        title=point_title,
    script:
        "../scripts/learning_curve.py"
