"""Cross-validation folds, seed repeats and the statistics of selection: units, their data, their
training inside a pack, and the corrected intervals and tests that flag ties."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import yaml
from e2e import REPO
from scipy import stats

from snakesweep import SnakesweepError
from snakesweep.folds import TRAIN_ONLY, derive_seed, fold_table, stratified_folds, units_of
from snakesweep.selection import compare, corrected_t, summary
from snakesweep.summary import ties_of

pytestmark = pytest.mark.usefixtures("restore_torch_state")


# --- folds -------------------------------------------------------------------------------------------

def test_folds_are_stratified_balanced_and_seeded():
    y = np.r_[np.ones(37), np.zeros(63)]
    fold = stratified_folds(y, 5, seed=42, repeat=0)
    for f in range(5):
        rows = fold == f
        assert 19 <= rows.sum() <= 21
        assert 7 <= y[rows].sum() <= 8  # each class spread evenly
    assert np.array_equal(fold, stratified_folds(y, 5, seed=42, repeat=0))
    assert not np.array_equal(fold, stratified_folds(y, 5, seed=42, repeat=1))
    assert not np.array_equal(fold, stratified_folds(y, 5, seed=43, repeat=0))


def test_identical_rows_share_a_fold():
    y = np.r_[np.ones(30), np.zeros(30)]
    groups = np.arange(60)
    groups[[5, 17, 29]] = 5  # rows 5, 17 and 29 repeat row 5's features
    groups[[40, 41]] = 40
    for repeat in range(4):
        fold = stratified_folds(y, 5, seed=1, repeat=repeat, groups=groups)
        assert len(set(fold[[5, 17, 29]])) == 1 and fold[40] == fold[41]


def test_too_few_rows_of_a_class_for_the_folds_names_the_key():
    y = np.r_[np.ones(3), np.zeros(30)]
    with pytest.raises(SnakesweepError, match=r"split\.folds: class 'M' has only 3 row"):
        stratified_folds(y, 5, seed=0, repeat=0, labels=["B", "M"])


def test_one_fold_is_the_validation_split():
    subset = np.array(["train", "val", "test", "train", "val", "train"])
    y = np.array([1, 0, 1, 0, 1, 0])
    table = fold_table(y, subset, folds=1, repeats=1, seed=0)
    assert table.tolist() == [[TRAIN_ONLY, 0, TRAIN_ONLY, 0, TRAIN_ONLY]]


def test_seeds_and_units():
    assert derive_seed(42, 0) == 42
    seeds = [derive_seed(42, j) for j in range(50)]
    assert len(set(seeds)) == 50 and all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(43, 1) != derive_seed(42, 1)
    assert units_of(42, folds=1, repeats=1, seeds=1) == []
    units = units_of(42, folds=5, repeats=2, seeds=3)
    assert len(units) == 30 and len({u["unit"] for u in units}) == 30
    assert units[0] == {"unit": "r0-f0-s0", "repeat": 0, "fold": 0, "seed_index": 0, "seed": 42}
    assert [u["unit"] for u in units_of(7, folds=1, repeats=1, seeds=3)] == ["s0", "s1", "s2"]
    # Raising the repeats or seeds keeps the units there were: they are not trained again.
    assert units_of(42, folds=5, repeats=1, seeds=1)[0] in units_of(42, folds=5, repeats=2, seeds=3)


# --- statistics ----------------------------------------------------------------------------------------

def test_summary_is_the_nadeau_bengio_corrected_t_interval():
    v = [0.99, 0.97, 1.0, 0.98, 0.985]
    got = summary(v, ratio=1 / 4)
    sd = np.std(v, ddof=1)
    half = stats.t.ppf(0.975, 4) * math.sqrt((1 / 5 + 1 / 4) * sd**2)
    assert got["mean"] == pytest.approx(np.mean(v)) and got["sd"] == pytest.approx(sd) and got["n"] == 5
    assert got["ci95"] == pytest.approx([np.mean(v) - half, np.mean(v) + half])
    # Wider than the naive interval, which takes the folds for independent draws.
    assert half > stats.t.ppf(0.975, 4) * sd / math.sqrt(5)
    assert summary(v, 0.25, bounds=(0, 1))["ci95"][1] == 1.0
    assert summary([0.9], 0.25) == {"mean": 0.9, "sd": None, "ci95": None, "n": 1}


def test_corrected_t_with_no_overlap_is_the_paired_t_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.02, 10), rng.normal(0.89, 0.02, 10)
    got = corrected_t(a - b, ratio=0.0)
    ref = stats.ttest_rel(a, b)
    assert got["t"] == pytest.approx(ref.statistic) and got["p"] == pytest.approx(ref.pvalue)
    # The correction for overlapping training sets can only make a difference less significant.
    assert corrected_t(a - b, ratio=0.25)["p"] > got["p"]
    assert corrected_t([0.0, 0.0, 0.0], 0.25)["p"] == 1.0
    assert corrected_t([0.01, 0.01, 0.01], 0.25)["p"] == 0.0
    assert corrected_t([0.01], 0.25)["p"] is None


def _rec(point, values, metric="val_roc_auc", status="ok"):
    units = [{"unit": f"r0-f{i}-s0", metric: v} for i, v in enumerate(values)]
    return {"point": point, "status": status, metric: float(np.mean(values)), "units": units,
            "cv": {"folds": len(values), "train_rows": 4 * 91, "val_rows": 91}}


def test_ties_flag_points_the_folds_cannot_tell_from_the_best():
    best = _rec("a", [0.999, 0.998, 0.997, 1.0, 0.996])
    close = _rec("b", [0.998, 0.999, 0.996, 0.999, 0.995])  # differs by noise
    worse = _rec("c", [0.95, 0.94, 0.96, 0.95, 0.945])  # clearly lower on every fold
    failed = {**_rec("d", [0.5] * 5), "status": "failed"}
    got = ties_of([close, worse, failed, best], "val_roc_auc", "maximize", {})
    assert got["a"] == {"tied": True, "p": None}  # the best: no test against itself
    assert got["b"]["tied"] is True and got["b"]["p"] > 0.05
    assert got["c"]["tied"] is False and got["c"]["p"] < 0.05
    assert "d" not in got
    # Holm over the two comparisons: the smaller p doubled.
    raw = {k: compare(best, r, "val_roc_auc")["p"] for k, r in (("b", close), ("c", worse))}
    assert got["c"]["p"] == pytest.approx(2 * raw["c"]) and got["b"]["p"] == pytest.approx(max(raw["b"], 2 * raw["c"]))
    # Pairs are matched by unit: the same folds.
    assert compare(best, close, "val_roc_auc")["n"] == 5
    assert compare(best, {**close, "units": close["units"][:3]}, "val_roc_auc")["n"] == 3


# --- config -------------------------------------------------------------------------------------------

def _config(**changes):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for dotted, value in changes.items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return cfg


def test_units_config_errors_name_the_key(tmp_path):
    from snakesweep.plan import make_plan

    with pytest.raises(SnakesweepError, match=r"split\.repeats: .* need split\.folds >= 2"):
        make_plan(_config(**{"split.repeats": 3}), base=REPO)
    with pytest.raises(SnakesweepError, match=r"tracking\.wandb\.enabled"):
        make_plan(_config(**{"split.folds": 5, "tracking.wandb.enabled": True}), base=REPO)
    spec = tmp_path / "bayes.yaml"
    spec.write_text("method: bayes\nmetric: {name: val_loss, goal: minimize}\n"
                    "parameters: {learning_rate: {min: 0.001, max: 0.1}}\n")
    with pytest.raises(SnakesweepError, match=r"split\.folds / sweep\.repeats: .*adaptive"):
        make_plan(_config(**{"sweep.repeats": 2, "sweep.file": str(spec)}), base=REPO)


def test_plan_gives_units_and_more_repeats_keep_their_unit_base():
    from snakesweep.plan import make_plan

    one = make_plan(_config(**{"split.folds": 5}), base=REPO)
    more = make_plan(_config(**{"split.folds": 5, "split.repeats": 2, "sweep.repeats": 3}), base=REPO)
    single = make_plan(_config(), base=REPO)
    # Folds change what a point is; more repeats or seeds make another point on the same unit base,
    # whose units already trained are kept.
    assert not set(one.ids) & set(more.ids) and not set(one.ids) & set(single.ids)
    assert [p.unit_base for p in one.points] == [p.unit_base for p in more.points]
    assert not {p.unit_base for p in one.points} & set(single.ids)
    assert len(more.points[0].units) == 30 and not single.points[0].units
    assert single.units is False and one.units is True


def test_command_line_values_are_read_as_the_schema_types():
    from snakesweep.plan import coerce_command_line, load_schema

    schema = load_schema(REPO / "workflow/schemas/config.schema.yaml")
    cfg = coerce_command_line({"split": {"folds": "5", "standardize": "false"}, "predict": {"threshold": "0.3",
                                                                                          "name": "007"}}, schema)
    assert cfg == {"split": {"folds": 5, "standardize": False}, "predict": {"threshold": 0.3, "name": "007"}}
    assert coerce_command_line({"split": {"folds": "five"}}, schema) == {"split": {"folds": "five"}}


# --- units in a pack ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cv_data(prepared, tmp_path_factory):
    """The split job's outputs with 1 fold (seed repeats) and with 3 folds x 2 repeats."""
    from snakesweep import prepare

    made = {}
    for folds, repeats in ((1, 1), (3, 2)):
        d = tmp_path_factory.mktemp(f"cv{folds}")
        outputs = {s: str(d / f"{s}.npz") for s in ("train", "val", "test", "cv")}
        outputs |= {"assignment": str(d / "assignment.tsv"), "scaler": str(d / "scaler.json")}
        prepare.split_data(table=str(os.path.dirname(prepared["labels"]) + "/table.tsv"), labels=prepared["labels"],
                        fractions={"train": 0.6, "val": 0.2, "test": 0.2}, seed=42, standardize=True,
                        outputs=outputs, folds=folds, repeats=repeats)
        made[folds] = outputs
    return made


def test_the_test_rows_do_not_depend_on_the_folds(cv_data, prepared):
    for outputs in cv_data.values():
        with np.load(outputs["cv"]) as z, np.load(prepared["test"]) as t:
            assert np.array_equal(z["row_test"], t["row"])
            assert not set(z["row"]) & set(z["row_test"])


def test_one_fold_units_see_the_single_split_bit_for_bit(cv_data, prepared):
    from snakesweep.kernel import load_split
    from snakesweep.unitdata import PackData

    data = PackData(None, None, cv_data[1]["cv"])
    train, val = data.unit({"repeat": 0, "fold": 0})
    ref_train, ref_val = load_split(prepared["train"]), load_split(prepared["val"])
    assert np.array_equal(train.x.numpy(), ref_train.x.numpy()) and np.array_equal(val.x.numpy(), ref_val.x.numpy())
    assert np.array_equal(train.y.numpy(), ref_train.y.numpy()) and np.array_equal(val.y.numpy(), ref_val.y.numpy())


def test_each_fold_scaler_is_fitted_on_its_own_training_rows(cv_data):
    from snakesweep.unitdata import PackData

    data = PackData(None, None, cv_data[3]["cv"])
    with np.load(cv_data[3]["cv"]) as z:
        x, fold = z["x"], z["fold"]
    for r in range(2):
        for f in range(3):
            train, val = data.unit({"repeat": r, "fold": f})
            assert len(train.y) + len(val.y) == len(x) and len(val.y) == (fold[r] == f).sum()
            # Standardised on its training rows alone: mean 0 there, not on the held-out fold.
            assert np.abs(train.x.numpy().astype(np.float64).mean(axis=0)).max() < 1e-5
            assert np.abs(val.x.numpy().mean(axis=0)).max() > 1e-3


def _member(hp_seed=42, folds=3, repeats=2, seeds=2, epochs=3):
    from snakesweep.hparams import defaults_from_config

    hp = {**defaults_from_config({}), "max_epochs": epochs, "seed": hp_seed}
    return {"point": "p0000000000a", "hparams": hp, "params": {}, "title": "t",
            "units": units_of(hp_seed, folds=folds, repeats=repeats, seeds=seeds), "folds": folds,
            "repeats": repeats, "seeds": seeds}


def test_a_point_trains_once_per_unit_and_sums_them_up(cv_data, prepared, tmp_path):
    from snakesweep.points import as_point
    from snakesweep.records import unit_paths
    from snakesweep.runner import run_pack

    member = _member()
    metrics = tmp_path / "points" / member["point"] / "metrics.json"
    args = dict(pack="k", members=[member], train=None, val=None, cv=cv_data[3]["cv"], labels=prepared["labels"],
                threads=1, metrics_files=[str(metrics)], logs_dir=str(tmp_path / "logs"))
    (line,) = run_pack(**args)
    assert line["status"] == "ok"
    rec = json.loads(metrics.read_text())
    assert rec["n_units"] == 12 and len(rec["units"]) == 12
    aucs = [u["val_roc_auc"] for u in rec["units"]]
    assert rec["val_roc_auc"] == rec["val_roc_auc_mean"] == pytest.approx(np.mean(aucs))
    assert rec["val_roc_auc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert rec["cv"]["folds"] == 3 and rec["cv"]["train_rows"] == 2 * rec["cv"]["val_rows"]
    # Seeds recorded per unit, derived from the point's; the two seeds of a fold train differently.
    seeds = {u["unit"]: u["seed"] for u in rec["units"]}
    assert seeds["r0-f0-s0"] == 42 and seeds["r0-f0-s1"] == derive_seed(42, 1)
    by = {u["unit"]: u for u in rec["units"]}
    assert by["r0-f0-s0"]["val_loss"] != by["r0-f0-s1"]["val_loss"]
    assert (metrics.parent / "history.csv").is_file() and (metrics.parent / "learning_curve.svg").is_file()

    # A unit lost (a node died mid-pack) is the only one trained again, and the point's record is the same.
    gone = unit_paths(metrics.parent, as_point(member), "r1-f2-s1")
    kept = unit_paths(metrics.parent, as_point(member), "r0-f0-s0")["metrics"]
    before = kept.stat().st_mtime_ns
    first = {k: v for k, v in rec.items() if k not in ("train_seconds", "startup_seconds", "pack")}
    for p in gone.values():
        p.unlink()
    metrics.unlink()
    run_pack(**args)
    again = json.loads(metrics.read_text())
    assert kept.stat().st_mtime_ns == before and gone["model"].is_file()
    assert {k: v for k, v in again.items() if k not in ("train_seconds", "startup_seconds", "pack")} == first


def test_the_first_seed_on_one_fold_is_the_single_split_point(cv_data, prepared, tmp_path):
    """sweep.repeats: the unit with the point's own seed is the point the single split trains."""
    from snakesweep.points import as_point
    from snakesweep.records import unit_paths
    from snakesweep.runner import run_pack

    member = _member(folds=1, repeats=1, seeds=2)
    plain = {k: v for k, v in member.items() if k not in ("units", "folds", "repeats", "seeds")}
    a, b = tmp_path / "a" / member["point"] / "metrics.json", tmp_path / "b" / member["point"] / "metrics.json"
    run_pack(pack="u", members=[member], train=None, val=None, cv=cv_data[1]["cv"], labels=prepared["labels"],
             threads=1, metrics_files=[str(a)], logs_dir=str(tmp_path / "logs"))
    run_pack(pack="s", members=[plain], train=prepared["train"], val=prepared["val"], labels=prepared["labels"],
             threads=1, metrics_files=[str(b)], logs_dir=str(tmp_path / "logs"))
    unit = json.loads(unit_paths(a.parent, as_point(member), "s0")["metrics"].read_text())
    single = json.loads(b.read_text())
    for key in ("val_loss", "val_roc_auc", "train_loss"):
        assert unit[key] == single[key], key
    for kind in ("history", "scores"):
        unit_file = unit_paths(a.parent, as_point(member), "s0")[kind]
        assert unit_file.read_bytes() == (b.parent / unit_file.name).read_bytes(), kind


def test_the_final_model_trains_on_every_row_outside_the_test_split(cv_data, prepared, tmp_path):
    from snakesweep.kernel import load_model
    from snakesweep.runner import run_pack

    member = {k: v for k, v in _member().items() if k not in ("units", "folds", "repeats", "seeds")}
    metrics = tmp_path / "final" / member["point"] / "metrics.json"
    (line,) = run_pack(pack="final", members=[{**member, "final": True}], train=None, val=None,
                       cv=cv_data[3]["cv"], labels=prepared["labels"], threads=1, metrics_files=[str(metrics)],
                       logs_dir=str(tmp_path / "logs"))
    assert line["status"] == "ok"
    rec = json.loads(metrics.read_text())
    with np.load(cv_data[3]["cv"]) as z:
        n, x = len(z["y"]), z["x"]
    assert rec["trained_on"] == f"all {n} rows outside the test split" and rec["epochs"] == 3
    scaler = json.loads((metrics.parent / "scaler.json").read_text())
    assert np.allclose(scaler["mean"], x.mean(axis=0))  # fitted on those rows, not on a fold's
    model, state = load_model(metrics.parent / "model.pt")
    assert state["features"] == prepared["features"]
