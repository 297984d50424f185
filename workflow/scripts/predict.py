from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

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
