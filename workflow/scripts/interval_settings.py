from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.intervals import write_settings
from snakesweep.jobs import run_logged

run_logged(write_settings, settings=snakemake.params.settings, out=snakemake.output[0])
