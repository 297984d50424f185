import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.tracking import sync_job

run_logged(sync_job, root=snakemake.params.root, out=snakemake.output[0])
