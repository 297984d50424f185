from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import chosen_metrics, run_logged, sweep_points
from snakesweep.runners import PROGRAM

if snakemake.params.runner == PROGRAM:
    # An own program's best point: no test split here (the program splits its data itself).
    from snakesweep.own import describe_best

    points, metrics = sweep_points(snakemake.input.points)
    run_logged(describe_best, chosen=snakemake.input.chosen, points=points, metric_files=metrics,
               out=snakemake.output.best)
else:
    from snakesweep.evaluate import evaluate_best

    run_logged(
        evaluate_best,
        chosen=snakemake.input.chosen,
        metrics_file=snakemake.input.get("metrics") or chosen_metrics(snakemake.input.chosen),
        baseline=snakemake.input.baseline,
        test=snakemake.input.get("test"),
        scaler=snakemake.input.get("scaler"),
        final=snakemake.input.get("final"),
        cv=snakemake.input.get("cv"),
        baseline_cv=snakemake.input.get("baseline_cv"),
        interval=snakemake.input.intervals,
        out_json=snakemake.output.best,
        out_roc=snakemake.output.roc,
        out_predictions=snakemake.output.predictions,
        **snakemake.params.settings,
    )
