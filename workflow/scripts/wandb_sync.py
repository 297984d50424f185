from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.tracking import sync_job

run_logged(sync_job, root=snakemake.params.root, out=snakemake.output[0])
