import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.predict import predict_table

run_logged(
    predict_table,
    best=snakemake.input.best,
    labels=snakemake.input.labels,
    table=snakemake.input.table,
    out=snakemake.output[0],
    threshold=snakemake.params.threshold,
)
