import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.evaluate import fit_baseline
from snakesweep.jobs import run_logged

run_logged(fit_baseline, train=snakemake.input.train, test=snakemake.input.test, out=snakemake.output[0])
