#!/usr/bin/env bash
# Write the environment locks, requirements/py3.X.txt (the workflow) and py3.X-test.txt (with the test
# extras), for Linux x86-64, from pyproject.toml, with uv (pip install uv). Run it after any change to
# the dependencies; tests/unit/test_lock.py fails until the locks agree with pyproject.toml again.
# PyPI's Linux torch is its CUDA build; the CPU build (torch 2.13.0+cpu, from PyTorch's CPU index) is
# taken where a wheel of it is at hand (FIND_LINKS, default /opt/wheels), which is how these machines
# install torch. See docs/reproducibility.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
links=()
[ -d "${FIND_LINKS:-/opt/wheels}" ] && links=(--find-links "${FIND_LINKS:-/opt/wheels}")
for py in 3.11 3.12; do
    for group in "" "-test"; do
        extra=workflow
        [ "$group" = "-test" ] && extra=dev
        uv pip compile pyproject.toml --extra "$extra" --python-version "$py" \
            --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header --quiet \
            "${links[@]}" -o "requirements/py$py$group.txt"
        # The find-links folder is this machine's, not the lock's.
        sed -i '/^--find-links/d' "requirements/py$py$group.txt"
    done
done
