from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.rounds import collect_points

run_logged(collect_points, round_files=list(snakemake.input.rounds), names=snakemake.params.names,
           out=snakemake.output[0])
