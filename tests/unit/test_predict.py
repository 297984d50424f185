"""The predict target: the final model applied to a new table (src/snakesweep/predict.py), on a real model
trained by the workflow's own code on the workflow's own split of the built-in data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from snakesweep import SnakesweepError
from snakesweep.hparams import HPARAMS
from snakesweep.io import read_tsv
from snakesweep.kernel import load_model, predict
from snakesweep.predict import predict_table, table_input

# prepared: tests/unit/conftest.py


@pytest.fixture(scope="module")
def final(prepared, tmp_path_factory) -> dict:
    """A model trained by run_point (3 epochs) and a best.json naming it and the split's scaler as the final
    model; torch's global state put back afterwards (see restore_torch_state in conftest.py)."""
    from snakesweep.train import run_point

    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    d = tmp_path_factory.mktemp("final")
    hp = {**{k: v.default for k, v in HPARAMS.items()}, "max_epochs": 3}
    try:
        run_point(point="abcdef012345", hp=hp, train_path=prepared["train"], val_path=prepared["val"],
                  features=prepared["features"], threads=1, model_out=d / "model.pt", history_out=d / "history.csv",
                  metrics_out=d / "metrics.json")  # fmt: skip
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)
    best = d / "best.json"
    best.write_text(json.dumps({"final_model": {"model": str(d / "model.pt"), "scaler": prepared["scaler"]}}))
    return {"best": str(best), "model": str(d / "model.pt"), "labels": prepared["labels"]}


@pytest.fixture(scope="module")
def test_rows(prepared) -> pd.DataFrame:
    """The test split's rows of the working table, as text and in the split's order, with an identifier
    column first."""
    folder = Path(prepared["labels"]).parent
    table = pd.read_csv(folder / "table.tsv", sep="\t", dtype=str, keep_default_na=False)
    subset = pd.read_csv(folder / "assignment.tsv", sep="\t")["subset"]
    rows = table[(subset == "test").to_numpy()].reset_index(drop=True)
    rows.insert(0, "sample_id", [f"{i:03d}" for i in range(len(rows))])
    return rows


def model_scores(final) -> np.ndarray:
    """The model's logits on test.npz, as evaluate_best computes them."""
    model, _ = load_model(final["model"])
    folder = Path(final["labels"]).parent
    with np.load(folder / "test.npz") as z:
        return predict(model, torch.from_numpy(z["x"])).double().numpy()


def run(final, table: pd.DataFrame | None, tmp_path: Path, name: str = "new.csv", threshold: float = 0.5, **kw):
    path = tmp_path / name
    if table is not None:
        table.to_csv(path, sep="\t" if name.endswith(".tsv") else ",", index=False)
    out = tmp_path / "out" / "predictions.tsv"
    df = predict_table(best=final["best"], labels=final["labels"], table=str(path), out=str(out), threshold=threshold)
    return df, out


def test_the_test_rows_get_the_models_test_scores_bit_for_bit(final, test_rows, tmp_path):
    df, out = run(final, test_rows, tmp_path)
    expected = model_scores(final)
    assert np.array_equal(df["score"].to_numpy(), expected)
    assert np.array_equal(read_tsv(out)["score"].to_numpy(), expected)  # the file reads back exactly
    assert df["score"].dtype == np.float64


def test_probabilities_are_the_sigmoid_of_the_logits(final, test_rows, tmp_path):
    df, _ = run(final, test_rows, tmp_path)
    score = model_scores(final)
    np.testing.assert_allclose(df["probability"].to_numpy(), 1 / (1 + np.exp(-score)), rtol=1e-12, atol=0)
    # Of the positive class: the model ranks the malignant rows above the benign ones.
    positive = (test_rows["target"] == "malignant").to_numpy()
    assert df["probability"][positive].mean() > 0.5 > df["probability"][~positive].mean()


def test_identifiers_are_kept_verbatim_and_in_input_order(final, test_rows, tmp_path):
    # Shuffled, with a text column between the features and a label column: every non-feature column is
    # kept, in input order, as written ('007' stays '007').
    order = np.random.default_rng(0).permutation(len(test_rows))
    table = test_rows.iloc[order].reset_index(drop=True)
    table.insert(5, "site", ["north", "south"] * (len(table) // 2) + ["north"] * (len(table) % 2))
    df, out = run(final, table, tmp_path, name="new.tsv")
    written = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    assert list(written.columns) == ["sample_id", "site", "target", "score", "probability", "predicted"]
    assert written["sample_id"].tolist() == table["sample_id"].tolist()
    assert written["site"].tolist() == table["site"].tolist()
    assert written["target"].tolist() == table["target"].tolist()
    # Each row beside its own score. Not bit for bit: a matrix product's rounding depends on where a row
    # sits in the batch, so only the same rows in the same order give the same bits.
    np.testing.assert_allclose(df["score"].to_numpy(), model_scores(final)[order], rtol=1e-5, atol=1e-6)


def test_threshold_sets_the_predicted_class(final, test_rows, tmp_path):
    df, _ = run(final, test_rows, tmp_path)
    p = df["probability"].to_numpy()
    assert set(df["predicted"]) == {"malignant", "benign"}
    assert ((df["predicted"] == "malignant").to_numpy() == (p >= 0.5)).all()
    cut = float(np.sort(p)[len(p) // 2])  # a probability of a row: that row is 'at or above'
    df, _ = run(final, test_rows, tmp_path, threshold=cut)
    assert (df["predicted"] == "malignant").sum() == (p >= cut).sum() == len(p) - len(p) // 2
    df, _ = run(final, test_rows, tmp_path, threshold=0.0)
    assert (df["predicted"] == "malignant").all()
    with pytest.raises(SnakesweepError, match="threshold"):
        run(final, test_rows, tmp_path, threshold=1.5)


def test_the_label_column_is_optional(final, test_rows, tmp_path):
    table = test_rows.drop(columns="target")
    table.loc[3, "sample_id"] = "unlabelled"
    df, _ = run(final, table, tmp_path)
    assert list(df.columns) == ["sample_id", "score", "probability", "predicted"]
    assert np.array_equal(df["score"].to_numpy(), model_scores(final))
    # Empty label cells are unlabelled rows, not a different coding.
    labelled = test_rows.copy()
    labelled.loc[[0, 4], "target"] = ""
    assert len(run(final, labelled, tmp_path)[0]) == len(test_rows)


def with_cell(column: str, cells: dict):
    def change(df):
        df = df.copy()
        for row, value in cells.items():
            df.loc[row - 1, column] = value  # row: counted from 1 after the header, as the messages do
        return df

    return change


BAD = {
    "missing feature columns": (lambda df: df.drop(columns=["mean radius", "worst area"]),
                                ["lacks 2", "'mean radius'", "'worst area'"]),
    "non-numeric value": (with_cell("mean texture", {3: "abc", 7: "1,5"}),
                          ["non-numeric", "'mean texture'", "'abc' in row 3", "2 such cells"]),
    "underscored number": (with_cell("mean area", {2: "1_000"}), ["non-numeric", "'mean area'", "'1_000' in row 2"]),
    "missing values": (with_cell("mean area", {2: "", 5: "NaN"}),
                       ["2 missing value(s)", "'mean area' (rows 2, 5)"]),
    "infinite value": (with_cell("worst texture", {4: "-inf"}), ["infinite", "'worst texture' (row 4)"]),
    "label column with other labels": (with_cell("target", {1: "M", 2: "maybe"}),
                                       ["label column 'target'", "'M', 'maybe'", "'benign', 'malignant'"]),
    "empty table": (lambda df: df.iloc[:0], ["no rows"]),
    "output column in the input": (lambda df: df.rename(columns={"sample_id": "score"}), ["'score'", "overwrite"]),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_refused_naming_the_column_and_writes_nothing(final, test_rows, tmp_path, case):
    change, words = BAD[case]
    with pytest.raises(SnakesweepError) as err:
        run(final, change(test_rows), tmp_path)
    message = str(err.value)
    assert message.startswith(f"predict.input: file '{tmp_path / 'new.csv'}'")
    for word in words:
        assert word in message, message
    assert not (tmp_path / "out").exists()


def test_unreadable_tables_are_refused(final, tmp_path):
    for text, word in (("", "empty (no header line)"), ("a,a,b\n1,2,3\n", "duplicate column names: 'a'"),
                       ("a,b\n1,2,3\n", "more fields than its header")):  # fmt: skip
        (tmp_path / "new.csv").write_text(text)
        with pytest.raises(SnakesweepError, match=re.escape(word)):
            run(final, None, tmp_path)
    with pytest.raises(SnakesweepError, match="does not exist"):
        run(final, None, tmp_path, name="absent.csv")
    assert not (tmp_path / "out").exists()


def test_the_input_must_be_set_and_brace_free():
    with pytest.raises(SnakesweepError, match=r"predict\.input is not set"):
        table_input(None)
    with pytest.raises(SnakesweepError, match=r"predict\.input: the path 'a\{b\}\.csv'"):
        table_input("a{b}.csv")
    assert table_input("data/new batch.csv") == "data/new batch.csv"


