from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.runners import run_pack

# A sweep's pack, or the final model as a pack of one: the runner the plan chose, the same interface.
run_logged(
    run_pack,
    snakemake.params.runner,
    pack=snakemake.params.pack,
    members=list(snakemake.params.members),
    metrics_files=list(snakemake.output.metrics),
    logs_dir=snakemake.params.logs_dir,
    settings=dict(snakemake.params.settings),
    data=dict(snakemake.input.items()),
)
