import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.choose import choose_job
from snakesweep.jobs import run_logged, sweep_points

points, metrics = sweep_points(snakemake.input.points)

run_logged(
    choose_job,
    points=points,
    metric_files=metrics,
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    out=snakemake.output[0],
)
