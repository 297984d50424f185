from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.baseline import fit_baseline
from snakesweep.jobs import run_logged

run_logged(
    fit_baseline,
    train=snakemake.input.get("train"),
    test=snakemake.input.get("test"),
    cv=snakemake.input.get("cv"),
    out=snakemake.output.scores,
    cv_out=snakemake.output.get("baseline_cv"),
    seeds=snakemake.params.seeds,
)
