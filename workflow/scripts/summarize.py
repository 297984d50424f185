from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged, sweep_points
from snakesweep.runners import step

points, metrics = sweep_points(snakemake.input.points)

run_logged(
    step(snakemake.params.runner, "summarize"),
    points=points,
    metric_files=metrics,
    out=snakemake.output[0],
    **snakemake.params.settings,
    # The interval method's file (the built-in model's summary computes intervals and ties).
    **({"interval": f} if (f := snakemake.input.get("intervals")) else {}),
)
