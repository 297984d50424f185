"""One runner interface for the built-in model and the user's own program (runners.py)."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest

from snakesweep import own, runner
from snakesweep.runners import BUILTIN, PROGRAM, runner_of, step


def test_the_sweep_file_chooses_the_runner():
    assert runner_of(SimpleNamespace(own=True)) == PROGRAM
    assert runner_of(SimpleNamespace(own=False)) == BUILTIN


@pytest.mark.parametrize("job", ["run_pack", "summarize", "plot_sweep"])
def test_each_runner_gives_every_job_a_function_with_the_same_core_arguments(job):
    core = {"run_pack": {"pack", "members", "metrics_files", "logs_dir"},
            "summarize": {"points", "metric_files", "names", "metric", "goal", "out"},
            "plot_sweep": {"points", "metric_files", "names", "metric", "goal", "top", "out_params",
                           "out_curves"}}[job]
    for name in (BUILTIN, PROGRAM):
        assert core <= set(inspect.signature(step(name, job)).parameters), (name, job)


def test_the_runners_are_the_modules_that_train():
    assert step(BUILTIN, "run_pack") is runner.run_pack
    assert step(PROGRAM, "run_pack") is own.run_own_pack
    with pytest.raises(ValueError, match="unknown runner"):
        step("nope", "run_pack")
