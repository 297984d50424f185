# snakesweep: the tutorial "Practical deep learning with PyTorch" as a reproducible Snakemake sweep.
# Run: snakemake --cores 4 (add --resources gpu=N on a GPU machine); see README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/plan.smk"


if OWN:

    # The user's own program per point (W&B's program/command): no data, split or built-in model.
    include: "workflow/rules/program.smk"

else:

    include: "workflow/rules/data.smk"
    include: "workflow/rules/explore.smk"
    include: "workflow/rules/sweep.smk"
    include: "workflow/rules/evaluate.smk"
    include: "workflow/rules/tracking.smk"
    include: "workflow/rules/predict.smk"

    # On a cluster these run where Snakemake runs, the login node: each takes seconds, and a queued job
    # would wait longer than it runs. The data download and W&B sync also need the internet, which
    # compute nodes often lack. Only the training packs are submitted.
    localrules:
        prepare_data,
        split,
        explore,
        learning_curves,
        summarize,
        baseline,
        plot_sweep,
        choose_best,
        evaluate_best,
        wandb_sync,


if ADAPTIVE:

    include: "workflow/rules/rounds.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        all_targets(),


onstart:
    check_machine()


onsuccess:
    show_warnings("results/best.json")
