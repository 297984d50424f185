"""The `snakesweep` command. `snakesweep reproduce CRATE [--into DIR] [--cores N]` re-runs a run's crate
and compares every result with the recorded one (reproduce.py)."""

from __future__ import annotations

import argparse
import sys

from . import SnakesweepError, __version__

# The command line, not what a run computes: not part of a point's id (identity.py).
RESULT_CODE = False


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snakesweep", description="A reproducible hyperparameter sweep, run by Snakemake.")
    p.add_argument("--version", action="version", version=f"snakesweep {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("reproduce", help="re-run a run's crate and compare its results, file by file",
                       description="Check every file of CRATE against its sha256, lay its workflow out in DIR, "
                                   "run it with the crate's config and data, and compare every recorded result "
                                   "with the new one (DIR/reproduction.tsv). Exit status: 0 reproduced, 1 a "
                                   "result differs, 2 refused (a changed crate, bad input).")
    r.add_argument("crate", help="the crate: its folder (results/crate) or its .crate.zip")
    r.add_argument("--into", metavar="DIR", help="a new folder to run in (default: ./reproduced-NAME)")
    r.add_argument("--cores", type=int, default=1, metavar="N", help="cores for Snakemake (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cores < 1:
        parser().error("--cores must be 1 or more")
    try:
        from .reproduce import reproduce

        return reproduce(args.crate, args.into, cores=args.cores, out=lambda s: print(s, flush=True))
    except SnakesweepError as err:
        print(f"snakesweep: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
