from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.hyperband import select_rung
from snakesweep.jobs import run_logged

run_logged(select_rung, settings=snakemake.params.settings, round=int(snakemake.wildcards.round),
           rung=int(snakemake.wildcards.rung), round_file=snakemake.input.round_file,
           previous=snakemake.input.get("previous"), done_files=list(snakemake.input.get("done", [])),
           out=snakemake.output[0])
