rule wandb_sync:
    # Not part of `all`: `snakemake --cores 1 wandb_sync` uploads the offline runs once a network and
    # W&B credentials (WANDB_API_KEY or `wandb login`) are at hand. New points make it run again.
    input:
        points=L.POINTS_TABLE,
        metrics=POINT_METRICS,
    output:
        f"{L.WANDB}/synced.txt",
    log:
        "results/logs/wandb_sync.log",
    conda:
        "../../environment.yml"
    params:
        root=lambda wildcards, output: os.path.dirname(output[0]),
    script:
        "../scripts/wandb_sync.py"
