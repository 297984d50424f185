"""Each job's own record (provenance.py): what it read and wrote, and when, kept only when the job wrote
all its outputs, and written as the job's interpreter exits."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from snakesweep import provenance as P


class Named(list):
    """A Snakemake file list as scripts see it: a list with names."""

    def __init__(self, items, **named):
        super().__init__(items)
        self.__dict__.update(named)

    def items(self):
        return self.__dict__.items()


def fake_job(tmp_path, outputs):
    return type("Smk", (), {"rule": "summarize", "wildcards": Named([], point="abc"),
                            "input": Named(["a.tsv", ["m1.json", "m2.json"]]), "output": Named(outputs),
                            "log": Named([str(tmp_path / "job.log")]), "threads": 2})()


def test_record_only_when_every_output_exists(tmp_path):
    out = tmp_path / "results" / "summary.tsv"
    smk = fake_job(tmp_path, [str(out)])
    rec = P.job_record(smk, "2026-01-01T00:00:00.000+00:00", "2026-01-01T00:00:01.000+00:00")
    assert rec["inputs"] == ["a.tsv", "m1.json", "m2.json"] and rec["wildcards"] == {"point": "abc"}
    assert P.write_record(rec, tmp_path / "results") is None
    out.parent.mkdir(parents=True)
    out.write_text("x")
    path = P.write_record(rec, tmp_path / "results")
    assert path == P.record_path("summarize", [str(out)], tmp_path / "results")
    assert json.loads(path.read_text())["threads"] == 2
    # The same job again replaces its record; other outputs make another.
    assert P.record_path("summarize", [str(out)]) != P.record_path("summarize", [str(out), "b"])


def test_a_job_writes_its_record_and_log_as_it_exits(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_provenance import Named
        from snakesweep.provenance import record_job
        smk = type("Smk", (), {{"rule": "split", "wildcards": Named([]), "input": Named(["in.tsv"]),
                                "output": Named(["results/out.txt"]), "log": Named(["job.log"]), "threads": 1}})()
        record_job(smk)
        print("to the log")
        open("results/out.txt", "w").write("done")
        """)
    (tmp_path / "results").mkdir()
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    assert (tmp_path / "job.log").read_text() == "to the log\n"
    records = list((tmp_path / "results/provenance/jobs/split").glob("*.json"))
    rec = json.loads(records[0].read_text())
    assert len(records) == 1 and rec["outputs"] == ["results/out.txt"] and rec["started"] <= rec["ended"]


def test_a_failed_job_leaves_no_record(tmp_path):
    for ending in ("raise RuntimeError('boom')", "from snakesweep.jobs import run_logged\n"
                   "from snakesweep import SnakesweepError\n"
                   "def bad():\n    raise SnakesweepError('bad input')\nrun_logged(bad)"):
        script = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_provenance import Named
            from snakesweep.provenance import record_job
            smk = type("Smk", (), {{"rule": "split", "wildcards": Named([]), "input": Named([]),
                                    "output": Named(["out.txt"]), "log": Named(["job.log"]), "threads": 1}})()
            record_job(smk)
            open("out.txt", "w").write("written, then the job failed")
            """) + ending + "\n"
        p = subprocess.run([sys.executable, "-c", script], cwd=tmp_path)
        assert p.returncode != 0 and (tmp_path / "out.txt").is_file()
        assert not list(tmp_path.rglob("provenance/jobs/*/*.json")), ending
