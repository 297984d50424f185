# The run's Provenance Run Crate (src/snakesweep/crate.py): results/crate/ and its zip, built from the
# jobs' own records of what they read and wrote. It reads every result the run makes, so it is made
# again whenever one changes, and left alone when nothing did.


rule crate:
    input:
        crate_inputs,
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
