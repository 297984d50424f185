"""The `snakesweep` command:

- `snakesweep run`: the installed workflow, run by Snakemake in a folder (run.py);
- `snakesweep predict MODEL TABLE`: a run's chosen model applied to a new table (predict.py);
- `snakesweep reproduce CRATE`: a run's crate re-run and compared, file by file (reproduce.py);
- `snakesweep galaxy-config`: the Galaxy sweep tool's form as a config (galaxy.py; galaxy/).
"""

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

    r = sub.add_parser("run", help="run the installed workflow in a folder",
                       description="Run the workflow installed with snakesweep, by Snakemake, in DIR: the same "
                                   "run as `snakemake` in a checkout. Arguments after `--` go to Snakemake.")
    r.add_argument("--directory", "-d", default=".", metavar="DIR", help="the folder to run in (default: here)")
    r.add_argument("--configfile", metavar="FILE",
                   help="the config (default: DIR/config/config.yaml, else the installed default)")
    r.add_argument("--cores", type=int, default=1, metavar="N", help="cores for Snakemake (default 1)")
    r.add_argument("--gpus", default="auto", metavar="N",
                   help="GPUs the jobs may use: a number, or auto (default): none when GALAXY_GPU_ENABLED is "
                        "false, else those CUDA_VISIBLE_DEVICES lists or the machine has")
    r.add_argument("--mem-mb", type=int, default=0, metavar="MB", help="memory for the jobs in MB (0: no limit)")
    r.add_argument("--report", metavar="FILE", help="also write Snakemake's HTML report of the run to FILE")
    r.add_argument("--model-zip", metavar="FILE",
                   help="also write the chosen model, its scaler and labels to FILE (for snakesweep predict)")
    r.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="after --: more arguments for Snakemake")

    r = sub.add_parser("predict", help="apply a run's chosen model to a new table",
                       description="Score every row of TABLE with the model of MODEL (snakesweep run "
                                   "--model-zip), with the checks of the workflow's predict target.")
    r.add_argument("model", help="the model zip")
    r.add_argument("table", help="the table: CSV or TSV with the features the model was trained on")
    r.add_argument("--out", required=True, metavar="FILE", help="the predictions table to write (TSV)")
    r.add_argument("--threshold", type=float, default=0.5,
                   help="probability of the positive class from which a row is labelled so (default 0.5)")
    r.add_argument("--table-format", choices=("tabular", "tsv", "csv"),
                   help="how TABLE is separated, when its name does not end in .csv or .tsv")

    r = sub.add_parser("galaxy-config", help="the Galaxy sweep tool's form as a config (used by galaxy/)",
                       description="Turn Galaxy's JSON of the sweep tool's form into the workflow's config.")
    r.add_argument("inputs", help="Galaxy's JSON of the form (the tool's <inputs> config file)")
    r.add_argument("--table-format", help="the table's Galaxy datatype (tabular or csv), for a table from the history")
    r.add_argument("--out", required=True, metavar="FILE", help="the config to write")
    return p


def command(args) -> int:
    if args.command == "reproduce":
        from .reproduce import reproduce

        return reproduce(args.crate, args.into, cores=args.cores, out=lambda s: print(s, flush=True))
    if args.command == "run":
        from .run import run

        extra = args.snakemake_args[1:] if args.snakemake_args[:1] == ["--"] else args.snakemake_args
        return run(directory=args.directory, configfile=args.configfile, cores=args.cores,
                   gpus=args.gpus if args.gpus == "auto" else _count(args.gpus, "--gpus"), mem_mb=args.mem_mb,
                   report=args.report, model_zip=args.model_zip, extra=extra)
    if args.command == "predict":
        from .galaxy import separator
        from .predict import predict_bundle

        predict_bundle(args.model, args.table, args.out, threshold=args.threshold,
                       sep=separator(args.table_format) if args.table_format else None)
        return 0
    from .galaxy import write_config
    from .run import DEFAULT_SWEEP, workflow_dir

    write_config(args.inputs, table_ext=args.table_format, out=args.out, default_sweep=workflow_dir() / DEFAULT_SWEEP)
    return 0


def _count(value: str, option: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SnakesweepError(f"{option} must be 'auto' or a number, found {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "cores", 1) < 1:
        parser().error("--cores must be 1 or more")
    try:
        return command(args)
    except SnakesweepError as err:
        print(f"snakesweep: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
