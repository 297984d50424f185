# One rule per pack: a rule's outputs cannot depend on a wildcard, and a pack's outputs are its points'.
# They are update(): Snakemake would otherwise delete every point of a pack before training its one
# missing point. The pack runs with the runner the plan chose (the built-in model or the user's own
# program, src/snakesweep/runners.py): one rule, one script, whatever trains the points.
for pack in PACKS:

    rule:
        name:
            f"train_{pack.id}"
        input:
            **TRAIN_DATA,
        output:
            metrics=[update(L.point(p, "metrics")) for p in pack.points],
        log:
            f"results/logs/packs/{pack.id}.log",
        benchmark:
            f"results/benchmarks/packs/{pack.id}.tsv"
        conda:
            "../../environment.yml"
        threads: THREADS
        resources:
            gpu=pack_gpu(pack.accelerator),
            mem_mb=pack_mem_mb(pack.accelerator),
            runtime=pack_runtime(pack.points),
            # As many cores as torch (or the program) uses threads, whatever the profile's defaults say.
            cpus_per_task=THREADS,
        params:
            runner=RUNNER,
            pack=pack.id,
            members=pack_members(pack),
            errors=pack_errors(pack),
            logs_dir="results/logs/train",
            settings=runner_settings(),
        script:
            "../scripts/train_pack.py"

    if not OWN:
        apply_profile_resources(f"train_{pack.id}", pack.accelerator)


rule learning_curves:
    input:
        points=L.POINTS_TABLE,
        metrics=POINT_METRICS,
    output:
        report(
            directory(L.plot("learning_curves")),
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
