import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged, write_points

# A sweep planned upfront writes its points; an adaptive one copies the table its rounds collected.
run_logged(
    write_points,
    rows=snakemake.params.rows,
    names=snakemake.params.names,
    collected=snakemake.input.get("collected"),
    out=snakemake.output[0],
)
