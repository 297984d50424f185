from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.prepare import split_data

run_logged(
    split_data,
    table=snakemake.input.table,
    labels=snakemake.input.labels,
    fractions=dict(snakemake.params.fractions),
    seed=snakemake.params.seed,
    standardize=snakemake.params.standardize,
    folds=snakemake.params.folds,
    repeats=snakemake.params.repeats,
    outputs=dict(snakemake.output.items()),
)
