import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.hyperband import select_rung
from snakesweep.jobs import run_logged

run_logged(select_rung, settings=snakemake.params.settings, round=int(snakemake.wildcards.round),
           rung=int(snakemake.wildcards.rung), round_file=snakemake.input.round_file,
           previous=snakemake.input.get("previous"), done_files=list(snakemake.input.get("done", [])),
           out=snakemake.output[0])
