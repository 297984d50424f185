from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.curves import collect_curves
from snakesweep.jobs import run_logged, sweep_points

points, metrics = sweep_points(snakemake.input.points)

run_logged(collect_curves, points=points, metric_files=metrics,
           out=snakemake.output[0])
