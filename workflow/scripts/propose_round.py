import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.rounds import propose

run_logged(propose, settings=snakemake.params.settings, round=int(snakemake.wildcards.round),
           size=snakemake.params.size, start=snakemake.params.start,
           done_files=list(snakemake.input.done), out=snakemake.output[0])
