"""The wheel carries the workflow's own files (snakesweep/_workflow), so that `snakesweep run` (run.py) runs
the workflow from an installed package, with no checkout: a Galaxy server's, a cluster's module. An
editable install (pip install -e .) runs the checkout's files instead, and copies nothing."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
# The files a run reads, and those its crate records (crate.WORKFLOW_GLOBS); MANIFEST.in puts the same in
# the sdist, from which a wheel may be built.
SHIPPED = ("Snakefile", "LICENSE", "environment.yml", "pyproject.toml", "workflow", "config", "profiles",
           "requirements", "src/snakesweep")
PACKAGED = "snakesweep/_workflow"  # run.PACKAGED, inside the package


class BuildWithWorkflow(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        dest = Path(self.build_lib) / PACKAGED
        for name in SHIPPED:
            src, dst = ROOT / name, dest / name
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_workflow"),
                                dirs_exist_ok=True)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildWithWorkflow})
