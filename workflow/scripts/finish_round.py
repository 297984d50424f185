from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.rounds import finish_round

run_logged(finish_round, settings=snakemake.params.settings, round_file=snakemake.input.round_file,
           rung_files=list(snakemake.input.rungs), out=snakemake.output[0])
