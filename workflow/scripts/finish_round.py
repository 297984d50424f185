import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.rounds import finish_round

run_logged(finish_round, settings=snakemake.params.settings, round_file=snakemake.input.round_file,
           rung_files=list(snakemake.input.rungs), out=snakemake.output[0])
