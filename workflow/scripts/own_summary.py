import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged, sweep_points
from snakesweep.own import summarize_job

points, metrics = sweep_points(snakemake.input.points)
run_logged(
    summarize_job,
    points=points,
    metric_files=metrics,
    names=snakemake.params.names,
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    top=snakemake.params.top,
    out_summary=snakemake.output.summary,
    out_best=snakemake.output.best,
    out_params=snakemake.output.params,
    out_curves=snakemake.output.curves,
)
