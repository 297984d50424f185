rule wandb_sync:
    # Not part of `all`: run `snakemake wandb_sync --cores 1` once a network is at hand.
    output:
        "results/wandb/synced.txt",
    params:
        root="results/wandb",
    log:
        "results/logs/wandb_sync.log",
    script:
        "../scripts/wandb_sync.py"
