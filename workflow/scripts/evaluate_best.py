import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

from snakesweep.evaluate import evaluate_best
from snakesweep.jobs import run_logged

points = snakemake.params.points
run_logged(
    evaluate_best,
    points=points,
    names=snakemake.params.names,
    # A point's model.pt sits beside its metrics.json, which its pack writes last.
    models={p: Path(m).with_name("model.pt") for p, m in zip(points, snakemake.input.metrics, strict=True)},
    metric_files=dict(zip(points, snakemake.input.metrics, strict=True)),
    baseline=snakemake.input.baseline,
    test=snakemake.input.test,
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    n_boot=snakemake.params.bootstrap,
    seed=snakemake.params.seed,
    min_class_rows=snakemake.params.min_class_rows,
    out_json=snakemake.output.best,
    out_roc=snakemake.output.roc,
    out_predictions=snakemake.output.predictions,
)
