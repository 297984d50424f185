from snakesweep.provenance import record_job

# Output to the rule's log; the job's record (what it read and wrote, when) for the run's crate.
record_job(snakemake)

from pathlib import Path

from snakesweep.crate import Run, build
from snakesweep.jobs import run_logged

run = Run(
    **snakemake.params.run,
    config=dict(snakemake.config),
    # Every result of the run: the crate follows the jobs that made them back to the sources.
    targets=list(snakemake.input.results),
    workflow_dir=Path(snakemake.scriptdir).resolve().parents[1],
)
# The crate rule makes the zip; the predict target remakes the one the crate rule made.
zip_path = getattr(snakemake.output, "zip", None) or snakemake.input.zip
print(run_logged(build, run, zip_path=zip_path))
