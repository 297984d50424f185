from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.prepare import prepare_data

run_logged(
    prepare_data,
    **snakemake.params.data,
    resources="resources",
    table_out=snakemake.output.table,
    labels_out=snakemake.output.labels,
)
