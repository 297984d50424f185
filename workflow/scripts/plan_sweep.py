from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged, write_points

# A sweep planned upfront writes its points; an adaptive one copies the table its rounds collected.
run_logged(
    write_points,
    rows=snakemake.params.rows,
    names=snakemake.params.names,
    collected=snakemake.input.get("collected"),
    out=snakemake.output[0],
)
