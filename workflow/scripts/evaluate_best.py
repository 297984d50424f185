import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.evaluate import evaluate_best
from snakesweep.jobs import chosen_metrics, run_logged

run_logged(
    evaluate_best,
    chosen=snakemake.input.chosen,
    metrics_file=snakemake.input.get("metrics") or chosen_metrics(snakemake.input.chosen),
    names=snakemake.params.names,
    baseline=snakemake.input.baseline,
    test=snakemake.input.get("test"),
    scaler=snakemake.input.get("scaler"),
    final=snakemake.input.get("final"),
    cv=snakemake.input.get("cv"),
    baseline_cv=snakemake.input.get("baseline_cv"),
    n_boot=snakemake.params.bootstrap,
    seed=snakemake.params.seed,
    min_class_rows=snakemake.params.min_class_rows,
    out_json=snakemake.output.best,
    out_roc=snakemake.output.roc,
    out_predictions=snakemake.output.predictions,
)
