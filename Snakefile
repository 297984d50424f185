# snakesweep: the tutorial "Practical deep learning with PyTorch" as a reproducible Snakemake sweep.
# Run: snakemake --cores 4 (add --resources gpu=N on a GPU machine); see README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Every rule file, whatever the mode: the targets (all_targets in common.smk) choose what runs, by the
# runner (the built-in model or the user's own program) and whether rounds decide the points.
include: "workflow/rules/common.smk"
include: "workflow/rules/plan.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/explore.smk"
include: "workflow/rules/sweep.smk"
include: "workflow/rules/rounds_inputs.smk"
include: "workflow/rules/rounds.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tracking.smk"
include: "workflow/rules/predict.smk"
# Last: the crate's job records the benchmark files of every rule above.
include: "workflow/rules/crate.smk"


# On a cluster these run where Snakemake runs, the login node: each takes seconds, and a queued job
# would wait longer than it runs. The data download and W&B sync also need the internet, which compute
# nodes often lack. Only the training packs (and rounds' stages) are submitted.
localrules:
    all,
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
    crate,


rule all:
    default_target: True
    input:
        all_targets(),
        CRATE_OUTPUTS,


onstart:
    check_machine()


onsuccess:
    show_warnings(L.BEST)
