from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged, sweep_points
from snakesweep.runners import step

# The points table is the one list of points (an adaptive sweep knows its points only once trained).
points, metrics = sweep_points(snakemake.input.points)
run_logged(
    step(snakemake.params.runner, "plot_sweep"),
    points=points,
    metric_files=metrics,
    **snakemake.params.settings,
    **{f"out_{name}": path for name, path in snakemake.output.items()},
    # The baseline's cross-validated figures, beside the points' in the ranking (with units only).
    **({"baseline": baseline} if (baseline := snakemake.input.get("baseline_cv")) else {}),
    **({"interval": f} if (f := snakemake.input.get("intervals")) else {}),
)
