import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged, write_points

run_logged(write_points, rows=snakemake.params.rows, names=snakemake.params.names, out=snakemake.output[0])
