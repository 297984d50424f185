from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from snakesweep.jobs import run_logged
from snakesweep.plots import plot_rungs

run_logged(plot_rungs, points_table=snakemake.input.points, metric=snakemake.params.metric,
           bands=snakemake.params.bands, out=snakemake.output[0])
