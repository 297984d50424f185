import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from snakesweep.jobs import run_logged
from snakesweep.rounds import run_stage

stage = dict(
    round_file=snakemake.input.round_file,
    rung_file=snakemake.input.rung,
    pack=snakemake.wildcards.pack,
    out=snakemake.output[0],
    logs_dir=snakemake.params.logs_dir,
)
if snakemake.params.own:  # the user's own program, one run per point
    run_logged(run_stage, **stage, own=dict(snakemake.params.own))
else:
    run_logged(
        run_stage,
        **stage,
        train=snakemake.input.train,
        val=snakemake.input.val,
        labels=snakemake.input.labels,
        threads=snakemake.params.torch_threads,
        tracking={**snakemake.params.tracking, "run_dir": snakemake.params.wandb_dir},
        bootstrap=snakemake.params.bootstrap,
        bootstrap_seed=snakemake.params.bootstrap_seed,
    )
