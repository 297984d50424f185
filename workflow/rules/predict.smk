# The `predict` target: the final model applied to a new table, e.g.
#   snakemake --cores 1 predict --config predict='{input: new.csv, name: batch1}'
# writes results/predictions/batch1.tsv. See src/snakesweep/predict.py.

from snakesweep.predict import table_input

PREDICT = config["predict"]


# Seconds of work on a table already at hand: they run where Snakemake runs.
localrules:
    predict_table,
    predict,


# The target: the prediction, and the run's crate made again with it (the crate job's script, given the
# prediction among the run's results). No output: asked for, it runs.
rule predict:
    input:
        results=[L.prediction(PREDICT["name"]), *crate_inputs()],
        metadata=L.CRATE_METADATA,
        zip=L.crate_zip(CRATE_NAME),
    log:
        f"results/logs/predict/{PREDICT['name']}.crate.log",
    conda:
        "../../environment.yml"
    params:
        run=lambda wildcards: crate_run(),
    script:
        "../scripts/crate.py"


rule predict_table:
    input:
        best=L.BEST,
        labels=L.DATA["labels"],
        # A function, so that predict.input is read (and a null refused, naming the key) only when
        # this target is asked for; a normal run never is. An input: editing the table predicts again.
        table=lambda wildcards: table_input(PREDICT["input"]),
    output:
        # Named at parse time: the name is a config value (one file name, by its pattern), no wildcard.
        L.prediction(PREDICT["name"]),
    log:
        f"results/logs/predict/{PREDICT['name']}.log",
    conda:
        "../../environment.yml"
    params:
        threshold=PREDICT["threshold"],
    script:
        "../scripts/predict.py"
