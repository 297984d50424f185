import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.evaluate import plot_sweep
from snakesweep.jobs import run_logged

points = snakemake.params.points
run_logged(
    plot_sweep,
    points=points,
    names=snakemake.params.names,
    metric_files=list(snakemake.input.metrics),
    histories=dict(zip(points, snakemake.input.histories, strict=True)),
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    top=snakemake.params.top,
    min_class_rows=snakemake.params.min_class_rows,
    out_curves=snakemake.output.curves,
    out_params=snakemake.output.params,
)
