rule wandb_sync:
    # Not part of `all`: `snakemake --cores 1 wandb_sync` uploads the offline runs once a network and
    # W&B credentials (WANDB_API_KEY or `wandb login`) are at hand. New points make it run again.
    input:
        points="results/sweep/points.tsv",
        metrics=per_point("results/points/{point}/metrics.json"),
    output:
        "results/wandb/synced.txt",
    log:
        "results/logs/wandb_sync.log",
    conda:
        "../../environment.yml"
    params:
        root=lambda wildcards, output: os.path.dirname(output[0]),
    script:
        "../scripts/wandb_sync.py"
