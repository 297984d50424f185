import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.evaluate import plot_learning_curve
from snakesweep.jobs import run_logged

run_logged(plot_learning_curve, history=snakemake.input[0], out=snakemake.output[0], title=snakemake.params.title)
