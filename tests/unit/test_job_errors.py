"""Jobs end with one line naming the file when the filesystem fails, and let real bugs raise."""

from __future__ import annotations

import errno
import os

import pytest

from snakesweep import jobs
from snakesweep.io import atomic_path

# --- file errors in jobs ------------------------------------------------------------------------------


def test_a_failed_write_names_the_final_path_not_the_temporary_one(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with pytest.raises(OSError) as err, atomic_path(target):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert not list(target.parent.iterdir())  # no temporary file left behind


@pytest.mark.parametrize(("code", "hint"), [(errno.ENOSPC, "free some space"), (errno.EACCES, "permissions"),
                                            (errno.EROFS, "read-only")])
def test_run_logged_reports_file_errors_in_one_line(capsys, code, hint):
    def job():
        raise OSError(code, os.strerror(code), "results/points/abc/model.pt")

    with pytest.raises(SystemExit):
        jobs.run_logged(job)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "results/points/abc/model.pt" in err and hint in err


def test_run_logged_lets_real_bugs_raise():
    def job():
        raise OSError(errno.EINVAL, "Invalid argument")  # no file involved: a bug, not the disk

    with pytest.raises(OSError):
        jobs.run_logged(job)
