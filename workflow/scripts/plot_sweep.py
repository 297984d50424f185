import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.evaluate import plot_sweep
from snakesweep.jobs import run_logged

run_logged(
    plot_sweep,
    summary=snakemake.input.summary,
    histories=dict(zip(snakemake.params.points, snakemake.input.histories, strict=True)),
    metric=snakemake.params.metric,
    top=snakemake.params.top,
    out_curves=snakemake.output.curves,
    out_params=snakemake.output.params,
)
