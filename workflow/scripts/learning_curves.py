import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.curves import collect_curves
from snakesweep.jobs import run_logged

run_logged(collect_curves, points=snakemake.params.points, metric_files=list(snakemake.input.metrics),
           out=snakemake.output[0])
