import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.explore import explore
from snakesweep.jobs import run_logged

run_logged(
    explore,
    table=snakemake.input.table,
    labels=snakemake.input.labels,
    **snakemake.params.explore,
    outputs=dict(snakemake.output.items()),
)
