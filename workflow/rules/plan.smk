# A sweep planned upfront lists its points here; an adaptive one collects them from its rounds
# (rules/rounds.smk).
if not ADAPTIVE:

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
            names=[*SPEC.names, "draws"],
        script:
            "../scripts/plan_sweep.py"

    localrules:
        plan_sweep,
