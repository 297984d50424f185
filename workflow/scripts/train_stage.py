from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.rounds import run_stage

run_logged(
    run_stage,
    runner=snakemake.params.runner,
    round_file=snakemake.input.round_file,
    rung_file=snakemake.input.rung,
    pack=snakemake.wildcards.pack,
    out=snakemake.output[0],
    logs_dir=snakemake.params.logs_dir,
    settings=dict(snakemake.params.settings),
    data=dict(snakemake.input.items()),
)
