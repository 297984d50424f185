import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.prepare import prepare_data

run_logged(
    prepare_data,
    **snakemake.params.data,
    resources="resources",
    table_out=snakemake.output.table,
    labels_out=snakemake.output.labels,
)
