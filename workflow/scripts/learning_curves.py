import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.curves import collect_curves
from snakesweep.jobs import run_logged, sweep_points

points, metrics = sweep_points(snakemake.input.points)

run_logged(collect_curves, points=points, metric_files=metrics,
           out=snakemake.output[0])
