import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.pack import run_pack

run_logged(
    run_pack,
    pack=f"final-{snakemake.wildcards.point}",
    members=[dict(snakemake.params.member)],
    train=None,
    val=None,
    cv=snakemake.input.cv,
    labels=snakemake.input.labels,
    threads=snakemake.params.torch_threads,
    metrics_files=[snakemake.output.metrics],
    logs_dir=snakemake.params.logs_dir,
)
