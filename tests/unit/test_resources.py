"""What jobs declare to the scheduler (resources.py): memory and time grow with data, points and retries."""

from __future__ import annotations

from snakesweep import resources as R
from snakesweep.points import Point


def test_memory_is_a_base_plus_a_multiple_of_the_input_and_grows_on_retry():
    assert R.mem_mb(700, 4, 0.0) == 700
    assert R.mem_mb(700, 4, 10.0) == 740
    assert R.mem_mb(700, 4, 10.0, attempt=2) == 1480
    assert R.mem_base("gpu") > R.mem_base("cpu") == R.mem_base("auto")


def test_runtime_counts_startup_once_and_every_point_by_its_epochs():
    one = R.runtime_minutes([10], 0.0)
    assert one == 2  # 60 s start-up + 5 s, rounded up to whole minutes
    assert R.runtime_minutes([10] * 20, 0.0) == 3  # 60 + 20 x 5 s = 160 s
    assert R.runtime_minutes([1000], 0.0) > one  # more epochs, longer
    assert R.runtime_minutes([10], 100.0) > one  # larger splits, longer
    assert R.runtime_minutes([10] * 20, 0.0, attempt=3) == 8  # 3 x 160 s
    assert R.runtime_minutes([], 0.0) == 1


def test_an_own_programs_pack_may_take_its_runtime_per_run():
    assert R.program_runtime(4, 30) == 121
    assert R.program_runtime(4, 30, attempt=2) == 241


def test_a_point_with_units_trains_once_per_unit():
    points = [Point("a", {}, {"max_epochs": 10}), Point("b", {}, {"max_epochs": 20}, units=({}, {}, {}))]
    assert R.pack_epochs(points) == [10, 20, 20, 20]
