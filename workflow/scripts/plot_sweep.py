import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

from snakesweep.evaluate import plot_sweep
from snakesweep.jobs import run_logged, sweep_points
from snakesweep.pack import output_paths

# The points table is the one list of points (an adaptive sweep knows its points only once trained).
points, metrics = sweep_points(snakemake.input.points)
run_logged(
    plot_sweep,
    points=points,
    names=snakemake.params.names,
    metric_files=metrics,
    # A point's other files sit beside its metrics.json, which its pack writes last.
    histories={
        p: output_paths(Path(m).parent)["history"] for p, m in zip(points, metrics, strict=True)
    },
    metric=snakemake.params.metric,
    goal=snakemake.params.goal,
    top=snakemake.params.top,
    min_class_rows=snakemake.params.min_class_rows,
    out_curves=snakemake.output.curves,
    out_params=snakemake.output.params,
    out_ranking=snakemake.output.ranking,
    baseline=snakemake.input.get("baseline_cv"),
)
