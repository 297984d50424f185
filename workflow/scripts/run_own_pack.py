import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.own import run_own_pack

run_logged(
    run_own_pack,
    pack=snakemake.params.pack,
    members=list(snakemake.params.members),
    metrics_files=list(snakemake.output.metrics),
    logs_dir=snakemake.params.logs_dir,
    **dict(snakemake.params.settings),
)
