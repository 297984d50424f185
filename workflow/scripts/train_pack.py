import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.pack import run_pack

run_logged(
    run_pack,
    pack=snakemake.params.pack,
    members=list(snakemake.params.members),
    train=snakemake.input.get("train"),
    val=snakemake.input.get("val"),
    cv=snakemake.input.get("cv"),
    labels=snakemake.input.labels,
    threads=snakemake.params.torch_threads,
    metrics_files=list(snakemake.output.metrics),
    logs_dir=snakemake.params.logs_dir,
    tracking={**snakemake.params.tracking, "run_dir": snakemake.params.wandb_dir},
    bootstrap=snakemake.params.bootstrap,
    bootstrap_seed=snakemake.params.bootstrap_seed,
)
