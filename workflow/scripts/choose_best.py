import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.choose import choose_job
from snakesweep.jobs import run_logged

run_logged(
    choose_job,
    points=snakemake.params.points,
    metric_files=list(snakemake.input.metrics),
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    out=snakemake.output[0],
)
