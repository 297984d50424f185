import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.plots import plot_rungs

run_logged(plot_rungs, points_table=snakemake.input.points, metric=snakemake.params.metric,
           bands=snakemake.params.bands, out=snakemake.output[0])
