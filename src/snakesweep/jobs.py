"""Job plumbing shared by the Snakemake scripts: the points table, and one-line errors for bad input.

The data jobs are in prepare.py, training in runner.py and train.py."""

from __future__ import annotations

import errno
import sys

from . import SnakesweepError
from .hparams import INT_HPARAMS
from .io import cast_ints, read_json, write_tsv

# How jobs run and report, not what they compute: not part of a point's id (identity.py).
RESULT_CODE = False

# Failures of the filesystem rather than of the code: reported in one line, with what to do.
FILE_HINTS = {
    errno.ENOSPC: "; free some space on that disk, then run the same command again",
    errno.EDQUOT: "; your disk quota is full: free some space, then run the same command again",
    errno.EACCES: "; check the permissions of that file and its folder",
    errno.EPERM: "; check the permissions and attributes of that file and its folder",
    errno.EROFS: "; that filesystem is mounted read-only: run the workflow where it can write",
    errno.EFBIG: "; the file exceeds a size limit (ulimit -f or the filesystem's)",
}
FILE_ERRNOS = {*FILE_HINTS, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EIO}


def write_points(*, rows: list[dict] | None, names: list[str], out: str, collected: str | None = None) -> None:
    """The points table, the one list of points that the summary and the report read: a planned sweep's
    `rows`, or the table an adaptive sweep's rounds `collected`."""
    import shutil

    import pandas as pd

    if collected is not None:
        shutil.copyfile(collected, out)
        print(f"points of the rounds, from {collected}")
        return

    df = cast_ints(pd.DataFrame(rows, columns=["point", *names]), INT_HPARAMS)
    write_tsv(out, df)
    print(f"{len(df)} points")


def sweep_points(points_table: str) -> tuple[list[str], list[str]]:
    """The points of the points table, and where each one's metrics.json is. Read without pandas: the
    choice of the best point, made again whenever a point is added, would spend more importing it."""
    import csv

    from . import layout

    with open(points_table, newline="") as fh:
        ids = [row["point"] for row in csv.DictReader(fh, delimiter="\t")]
    return ids, layout.metrics_files(ids)


def chosen_metrics(chosen: str) -> str:
    """The metrics.json of the point choose_best chose."""
    from . import layout

    return layout.point(read_json(chosen)["point"], "metrics")


def run_logged(fn, *args, **kwargs):
    """Run a job; bad input, and a file that cannot be read or written, end it with one line naming the
    culprit instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except SnakesweepError as err:
        message = str(err)
    except OSError as err:
        if err.errno not in FILE_ERRNOS or not err.filename:
            raise
        message = f"{err.strerror}: '{err.filename}'" + FILE_HINTS.get(err.errno, "")
    print(f"snakesweep: error: {message}", file=sys.stderr, flush=True)
    from .provenance import mark_failed

    mark_failed()
    sys.exit(1)
