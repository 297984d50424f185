from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.explore import explore
from snakesweep.jobs import run_logged

run_logged(
    explore,
    table=snakemake.input.table,
    labels=snakemake.input.labels,
    **snakemake.params.explore,
    outputs=dict(snakemake.output.items()),
)
