# The run's Provenance Run Crate (src/snakesweep/crate.py): results/crate/ and its zip, built from the
# jobs' own records of what they read and wrote. It reads every result the run makes, so it is made
# again whenever one changes, and left alone when nothing did: every result but the points' own files,
# which the summary reads (a changed point makes a new summary), so the DAG gains no edge per point. Predictions are not its inputs (they are
# made by their own target, which makes the crate again: rules/predict.smk); it finds them on disk.


rule crate:
    input:
        results=crate_inputs(),
    output:
        metadata=L.CRATE_METADATA,
        zip=L.crate_zip(CRATE_NAME),
    log:
        "results/logs/crate.log",
    conda:
        "../../environment.yml"
    params:
        run=crate_run(),
    script:
        "../scripts/crate.py"
