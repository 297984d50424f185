import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

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
