# One rule per pack: a rule's outputs cannot depend on a wildcard, and a pack's outputs are its points'.
# They are update(): Snakemake would otherwise delete every point of a pack before training its one
# missing point. The split inputs are ancient(): a point's id already names its data, split and code,
# so a split rewritten with the same content (data.source switched away and back) retrains nothing.
for pack in PACKS:

    rule:
        name:
            f"train_{pack.id}"
        input:
            **TRAIN_DATA,
            labels=ancient("results/data/labels.json"),
        output:
            metrics=[update(f"results/points/{p}/metrics.json") for p in pack.points],
        log:
            f"results/logs/packs/{pack.id}.log",
        benchmark:
            f"results/benchmarks/packs/{pack.id}.tsv"
        conda:
            "../../environment.yml"
        threads: config["train"]["threads"]
        resources:
            gpu=1 if pack.accelerator == "gpu" else 0,
            mem_mb=mem_mb_for_data(base=pack_mem_base(pack), per_input_mb=4),
            runtime=pack_runtime(pack),
            # As many cores as torch uses threads, whatever the profile's defaults say.
            cpus_per_task=config["train"]["threads"],
        params:
            pack=pack.id,
            members=pack_members(pack),
            errors=pack_errors(pack),
            tracking=tracking_params(),
            wandb_dir="results/wandb",
            logs_dir="results/logs/train",
            # torch uses exactly this many threads even if --cores is lower: thread count is part of
            # the point's id, since it changes float reduction order.
            torch_threads=config["train"]["threads"],
            # The validation ROC-AUC's interval follows the config too: changing these trains again.
            bootstrap=config["evaluate"]["bootstrap"],
            bootstrap_seed=config["evaluate"]["seed"],
        script:
            "../scripts/train_pack.py"

    pack_set_resources(pack)


rule learning_curves:
    input:
        points="results/sweep/points.tsv",
        metrics=per_point("results/points/{point}/metrics.json"),
    output:
        report(
            directory("results/plots/learning_curves"),
            patterns=["{point}.svg"],
            caption="../report/learning_curve.rst",
            category="Sweep",
            subcategory="Learning curves",
            labels={"point": "{point}"},
        ),
    log:
        "results/logs/learning_curves.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/learning_curves.py"
