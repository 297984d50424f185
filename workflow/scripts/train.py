import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged, train_point

run_logged(
    train_point,
    point=snakemake.wildcards.point,
    hp=dict(snakemake.params.hp),
    train=snakemake.input.train,
    val=snakemake.input.val,
    labels=snakemake.input.labels,
    threads=snakemake.params.torch_threads,
    outputs=dict(snakemake.output.items()),
    tracking={**snakemake.params.tracking, "run_dir": snakemake.params.wandb_dir},
    params=dict(snakemake.params.swept),
    bootstrap=snakemake.params.bootstrap,
    bootstrap_seed=snakemake.params.bootstrap_seed,
)
