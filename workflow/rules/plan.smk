# The points table, the one list of points that the DAG's later rules and the report read: a sweep
# planned upfront writes its points here; an adaptive one copies the table its rounds collected
# (rules/rounds.smk).


rule plan_sweep:
    input:
        unpack(points_table_inputs),
    output:
        report(
            L.POINTS_TABLE,
            caption="../report/points.rst",
            category="Sweep",
        ),
    log:
        "results/logs/plan_sweep.log",
    conda:
        "../../environment.yml"
    params:
        rows=None if ADAPTIVE else PLAN.rows(),
        names=[*SPEC.names, "draws"],
    script:
        "../scripts/plan_sweep.py"


localrules:
    plan_sweep,
