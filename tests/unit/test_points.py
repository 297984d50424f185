"""A point is one typed record (points.Point), made by one factory with its id and title."""

from __future__ import annotations

import dataclasses
import json

import pytest

from snakesweep.points import Point, point_id, units_id


@pytest.fixture
def point():
    return Point("abc123abc123", {"learning_rate": 0.01, "hidden_neurons": None},
                 {"learning_rate": 0.01, "hidden_layers": 0, "accelerator": "cpu", "seed": 7, "max_epochs": 10},
                 draws=(3,))


def test_a_point_is_frozen(point):
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.id = "other"


def test_its_title_names_its_id_and_swept_values(point):
    assert point.title == "point=abc123abc123, learning_rate=0.01, hidden_neurons=-"
    assert point.as_final().title.startswith("final model: point=abc123abc123")


def test_its_plain_view_is_json_and_comes_back_whole(point):
    staged = point.with_draw(9).at_stage(4, "results/points/abc123abc123/e2/model.pt")
    plain = staged.plain()
    assert json.loads(json.dumps(plain)) == plain
    assert Point.from_plain(plain) == staged
    assert plain["draws"] == [3, 9] and plain["epochs"] == 4


def test_units_make_a_new_point_on_the_same_unit_base(point):
    units = [{"unit": "r0-f0-s0", "repeat": 0, "fold": 0, "seed": 7}]
    cv = point.with_units(units, folds=5, repeats=2, seeds=1)
    assert cv.id == units_id(point.id, 2, 1) != point.id and cv.base == point.id
    assert Point.from_plain(cv.plain()) == cv
    # Seeds on one split: its repeats of the folds are 1, whatever was asked.
    assert point.with_units(units, folds=1, repeats=3, seeds=2).id == units_id(point.id, 1, 2)
    final = cv.as_final()
    assert final.id == cv.id and not final.units and final.final and final.base == cv.id


def test_ids_are_content_derived_and_ignore_settings_without_effect():
    ctx = {"data": "x"}
    a = {"learning_rate": 0.01, "hidden_layers": 0, "hidden_neurons": 16}
    b = {**a, "hidden_neurons": 64}  # no hidden layer: its width has no effect
    assert point_id(a, ctx) == point_id(b, ctx) != point_id(a, {"data": "y"})
    assert point_id(a, ctx, own=True) != point_id(b, ctx, own=True)  # a program's parameters all count
