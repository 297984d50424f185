"""Tests for snakesweep.data: sources, reading, checking and downloading the input table."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakesweep import SnakesweepError, data, prepare

# --- source_kind -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "kind"), [
    ("builtin:breast_cancer", "builtin"),
    ("http://example.org/data.csv", "url"),
    ("https://example.org/data.csv?x=1", "url"),
    ("HTTPS://EXAMPLE.ORG/data.csv", "url"),
    ("data/table.csv", "file"),
    ("/abs/path/table.tsv", "file"),
    ("table.csv", "file"),
    ("C:\\data\\table.csv", "file"),
])
def test_source_kind(source, kind):
    assert data.source_kind(source) == kind


@pytest.mark.parametrize(("source", "needle"), [
    ("ftp://example.org/data.csv", "ftp"),
    ("file:///etc/passwd", "file"),
    ("s3://bucket/data.csv", "s3"),
    ("builtin:iris", "builtin:iris"),
])
def test_source_kind_refuses_other_schemes(source, needle):
    with pytest.raises(SnakesweepError, match="data.source") as info:
        data.source_kind(source)
    assert needle in str(info.value)


# --- reading -----------------------------------------------------------------------------------------


def test_read_header_and_table(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n")
    assert data.read_header(csv) == ["a", "b", "label"]
    df = data.read_table(csv)
    assert list(df.columns) == ["a", "b", "label"] and len(df) == 2
    tsv = tmp_path / "t.tsv"
    tsv.write_text("\ufeffa\tb c\tlabel\n1\t2\tx\n")  # BOM and a space inside a name
    assert data.read_header(tsv) == ["a", "b c", "label"]
    assert list(data.read_table(tsv).columns) == ["a", "b c", "label"]


def test_missing_file_raises(tmp_path):
    for fn in (data.read_header, data.read_table):
        with pytest.raises(SnakesweepError, match="does not exist") as info:
            fn(tmp_path / "nope.csv")
        assert "nope.csv" in str(info.value)


@pytest.mark.parametrize("content", ["", "\n", ",,\n"])
def test_empty_file_raises(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    for fn in (data.read_header, data.read_table):
        with pytest.raises(SnakesweepError, match="empty"):
            fn(path)


def test_header_without_rows_raises(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b,label\n")
    assert data.read_header(path) == ["a", "b", "label"]
    with pytest.raises(SnakesweepError, match="no rows"):
        data.read_table(path)


def test_duplicate_column_names_raise(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,label\n1,2,3,x\n")
    for fn in (data.read_header, data.read_table):
        with pytest.raises(SnakesweepError, match="duplicate") as info:
            fn(path)
        assert "['a']" in str(info.value)


# --- prepare -----------------------------------------------------------------------------------------


def frame(n: int = 20, labels=None, **extra) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"f1": rng.normal(size=n), "f2": rng.integers(0, 5, n)})
    df["label"] = labels if labels is not None else np.arange(n) % 2
    for k, v in extra.items():
        df[k] = v
    return df


def test_prepare_01_labels_default_positive_one():
    p = data.prepare(frame(), target="label")
    assert p.positive_class == "1"
    assert p.classes == ["0", "1"]
    assert p.features == ["f1", "f2"]
    assert p.dropped_rows == 0
    assert list(p.table.columns) == ["f1", "f2", "label"]
    assert (p.table["label"] == frame()["label"].astype(str)).all()
    assert (p.table.dtypes[["f1", "f2"]] == np.float64).all()


@pytest.mark.parametrize(("labels", "positive"), [
    ([False, True] * 10, "True"),
    ([0.0, 1.0] * 10, "1"),  # float 0/1 labels count as 0/1 labels
])
def test_prepare_other_binary_labels_default_positive(labels, positive):
    assert data.prepare(frame(labels=labels), target="label").positive_class == positive


def test_prepare_string_labels_need_positive_class():
    df = frame(labels=["benign", "malignant"] * 10)
    with pytest.raises(SnakesweepError, match="data.positive_class") as info:
        data.prepare(df, target="label")
    assert "benign" in str(info.value) and "malignant" in str(info.value)
    p = data.prepare(df, target="label", positive_class="malignant")
    assert p.classes == ["benign", "malignant"]
    p = data.prepare(df, target="label", positive_class="benign")
    assert p.classes == ["malignant", "benign"]
    with pytest.raises(SnakesweepError, match="data.positive_class"):
        data.prepare(df, target="label", positive_class="cancer")


def test_prepare_positive_class_given_as_number():
    assert data.prepare(frame(), target="label", positive_class=0).classes == ["1", "0"]


def test_prepare_numeric_positive_class_matches_float_labels():
    df = frame(labels=[0, 1] * 9 + [None, 1])
    assert df["label"].dtype == np.float64
    p = data.prepare(df, target="label", positive_class=1, drop_missing=True)
    assert p.dropped_rows == 1
    assert p.classes[1] in ("1", "1.0")


def test_prepare_missing_target_raises():
    with pytest.raises(SnakesweepError, match="data.target") as info:
        data.prepare(frame(), target="diagnosis")
    assert "diagnosis" in str(info.value)


@pytest.mark.parametrize(("labels", "n"), [([1] * 20, 1), ([0, 1, 2, 3] * 5, 4), (["a", "b", "c", "d"] * 5, 4),
                                           ([0, 1, 2] * 6 + [0, 1], 3)])
def test_prepare_needs_exactly_two_classes(labels, n):
    with pytest.raises(SnakesweepError, match="exactly 2 classes") as info:
        data.prepare(frame(labels=labels), target="label", positive_class="1")
    assert f"found {n}" in str(info.value)


def test_prepare_refuses_non_numeric_feature():
    df = frame(name=[f"id{i}" for i in range(20)])
    with pytest.raises(SnakesweepError, match="not numeric") as info:
        data.prepare(df, target="label")
    assert "name" in str(info.value)
    p = data.prepare(df, target="label", exclude=["name"])
    assert p.features == ["f1", "f2"]
    with pytest.raises(SnakesweepError, match="data.exclude"):
        data.prepare(df, target="label", exclude=["nope"])


def test_prepare_refuses_bool_feature():
    with pytest.raises(SnakesweepError, match="not numeric"):
        data.prepare(frame(flag=[True, False] * 10), target="label")


def test_prepare_refuses_table_without_features():
    with pytest.raises(SnakesweepError, match="no feature"):
        data.prepare(frame()[["label"]], target="label")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_prepare_refuses_nan_and_inf(bad):
    df = frame()
    df["f2"] = df["f2"].astype(float)
    df.loc[3, "f1"] = bad
    df.loc[7, "f2"] = bad
    with pytest.raises(SnakesweepError, match="drop_missing") as info:
        data.prepare(df, target="label")
    msg = str(info.value)
    assert "2 row(s)" in msg and "f1" in msg and "f2" in msg
    p = data.prepare(df, target="label", drop_missing=True)
    assert p.dropped_rows == 2
    assert len(p.table) == 18
    assert np.isfinite(p.table[["f1", "f2"]].to_numpy()).all()


def test_prepare_missing_label_counts_as_missing():
    df = frame(labels=["a", "b"] * 9 + [None, "a"])
    with pytest.raises(SnakesweepError, match="label"):
        data.prepare(df, target="label", positive_class="a")
    p = data.prepare(df, target="label", positive_class="a", drop_missing=True)
    assert p.dropped_rows == 1 and p.classes == ["b", "a"]


def test_prepare_reads_nan_and_inf_from_a_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0\n,3,1\ninf,4,0\n5,6,1\n7,8,0\n")
    with pytest.raises(SnakesweepError, match="2 row"):
        data.prepare(data.read_table(path), target="y")
    assert data.prepare(data.read_table(path), target="y", drop_missing=True).dropped_rows == 2


def test_builtin_table():
    df = data.builtin_table()
    p = data.prepare(df, target=data.BUILTIN_TARGET, positive_class=data.BUILTIN_POSITIVE)
    assert len(p.table) == 569
    assert len(p.features) == 30
    assert (p.table[p.target] == "malignant").sum() == 212
    assert p.classes == ["benign", "malignant"]
    # The builtin's labels are strings: without a positive class they need one, like any other data.
    with pytest.raises(SnakesweepError, match="data.positive_class"):
        data.prepare(df, target="target")


def test_prepare_data_job_on_builtin(tmp_path):
    prepare.prepare_data(source=data.BUILTIN, target="target", positive_class=None, exclude=[], drop_missing=False,
                      sha256=None, max_download_mb=1, resources=str(tmp_path / "res"),
                      table_out=str(tmp_path / "table.tsv"), labels_out=str(tmp_path / "labels.json"))
    info = json.loads((tmp_path / "labels.json").read_text())
    assert info["positive_class"] == "malignant" and info["negative_class"] == "benign"
    assert info["rows"] == 569 and len(info["features"]) == 30
    assert info["class_counts"] == {"benign": 357, "malignant": 212}
    x, y, _ = prepare.read_prepared(str(tmp_path / "table.tsv"), str(tmp_path / "labels.json"))
    assert x.shape == (569, 30) and int(y.sum()) == 212
    np.testing.assert_array_equal(x, data.builtin_table().iloc[:, :30].to_numpy())


# --- fingerprint -------------------------------------------------------------------------------------


def test_fingerprint(tmp_path):
    assert data.fingerprint(data.BUILTIN).startswith("builtin:breast_cancer@scikit-learn-")
    assert data.fingerprint("https://x.org/d.csv", "AB" * 32) == "sha256:" + "ab" * 32
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,0\n")
    fp = data.fingerprint(str(path))
    assert fp == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text("a,y\n2,0\n")
    assert data.fingerprint(str(path)) != fp
    with pytest.raises(SnakesweepError, match="does not exist"):
        data.fingerprint(str(tmp_path / "missing.csv"))


# --- download ----------------------------------------------------------------------------------------

PAYLOAD = b"a,b,y\n" + b"".join(f"{i % 97},{i * 2 % 89},{i % 2}\n".encode() for i in range(2000))
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class NoLengthHandler(http.server.BaseHTTPRequestHandler):
    """Sends the payload without Content-Length, so only the streamed size can catch it."""

    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        for i in range(0, len(PAYLOAD), 1000):
            self.wfile.write(PAYLOAD[i:i + 1000])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve tmp_path/www on 127.0.0.1 (with /nolength/ answered without a Content-Length)."""
    for var in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    www = tmp_path / "www"
    www.mkdir()
    (www / "data.csv").write_bytes(PAYLOAD)

    class Handler(QuietHandler):
        def do_GET(self):
            if self.path.startswith("/nolength/"):
                return NoLengthHandler.do_GET(self)
            return super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_download_with_correct_sha256(server, tmp_path):
    dest = tmp_path / "res" / "data.csv"
    got = data.download(f"{server}/data.csv", dest, sha256=PAYLOAD_SHA.upper(), max_bytes=1 << 20, timeout=10)
    assert got == dest
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == ["data.csv"]


def test_download_with_wrong_sha256_leaves_nothing(server, tmp_path):
    dest = tmp_path / "res" / "data.csv"
    with pytest.raises(SnakesweepError, match="data.sha256") as info:
        data.download(f"{server}/data.csv", dest, sha256="0" * 64, max_bytes=1 << 20, timeout=10)
    assert PAYLOAD_SHA in str(info.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("path", ["/data.csv", "/nolength/data.csv"], ids=["content-length", "streamed"])
def test_download_over_max_bytes_is_refused(server, tmp_path, path):
    dest = tmp_path / "res" / "data.csv"
    with pytest.raises(SnakesweepError, match="max_download_mb"):
        data.download(server + path, dest, sha256=PAYLOAD_SHA, max_bytes=len(PAYLOAD) - 1, timeout=10)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []
    # Exactly at the limit is fine.
    data.download(server + path, dest, sha256=PAYLOAD_SHA, max_bytes=len(PAYLOAD), timeout=10)
    assert dest.read_bytes() == PAYLOAD


def test_download_needs_sha256(tmp_path):
    with pytest.raises(SnakesweepError, match="data.sha256"):
        data.download("http://127.0.0.1:9/data.csv", tmp_path / "d.csv", sha256=None, max_bytes=100)


def test_download_reuses_a_verified_file_without_fetching(tmp_path):
    dest = tmp_path / "data.csv"
    dest.write_bytes(PAYLOAD)
    # Port 9 (discard) on localhost: any real fetch would fail.
    assert data.download("http://127.0.0.1:9/data.csv", dest, sha256=PAYLOAD_SHA, max_bytes=100, timeout=2) == dest


def test_download_replaces_a_stale_file(server, tmp_path):
    dest = tmp_path / "data.csv"
    dest.write_bytes(b"stale")
    data.download(f"{server}/data.csv", dest, sha256=PAYLOAD_SHA, max_bytes=1 << 20, timeout=10)
    assert dest.read_bytes() == PAYLOAD


def test_load_from_url(server, tmp_path):
    df = data.load(f"{server}/data.csv", target="y", resources=tmp_path / "res", sha256=PAYLOAD_SHA)
    assert len(df) == 2000 and list(df.columns) == ["a", "b", "y"]
    assert (tmp_path / "res" / "data.csv").read_bytes() == PAYLOAD


def test_prepare_data_job_from_url(server, tmp_path):
    prepare.prepare_data(source=f"{server}/data.csv", target="y", positive_class=None, exclude=[],
                      drop_missing=False, sha256=PAYLOAD_SHA, max_download_mb=1, resources=str(tmp_path / "res"),
                      table_out=str(tmp_path / "table.tsv"), labels_out=str(tmp_path / "labels.json"))
    info = json.loads((tmp_path / "labels.json").read_text())
    assert info["positive_class"] == "1" and info["rows"] == 2000 and info["features"] == ["a", "b"]
    assert Path(tmp_path / "table.tsv").is_file()


def test_atomic_writes_get_the_usual_file_permissions(tmp_path):
    import os
    import stat

    from snakesweep.io import write_text

    write_text(tmp_path / "x.txt", "hello")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o666 & ~mask
    assert not list(tmp_path.glob(".x.txt.*"))
