import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.rounds import collect_points

run_logged(collect_points, round_files=list(snakemake.input.rounds), names=snakemake.params.names,
           out=snakemake.output[0])
