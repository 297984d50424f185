import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.evaluate import summarize
from snakesweep.jobs import run_logged, sweep_points

points, metrics = sweep_points(snakemake.input.points)

run_logged(
    summarize,
    points=points,
    metric_files=metrics,
    names=snakemake.params.names,
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    min_class_rows=snakemake.params.min_class_rows,
    out=snakemake.output[0],
    points_table=snakemake.input.points,
)
