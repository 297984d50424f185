from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.rounds import propose

run_logged(propose, settings=snakemake.params.settings, round=int(snakemake.wildcards.round),
           size=snakemake.params.size, start=snakemake.params.start,
           done_files=list(snakemake.input.done), out=snakemake.output[0])
