import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged, sweep_points
from snakesweep.runners import step

points, metrics = sweep_points(snakemake.input.points)

run_logged(
    step(snakemake.params.runner, "summarize"),
    points=points,
    metric_files=metrics,
    out=snakemake.output[0],
    **snakemake.params.settings,
)
