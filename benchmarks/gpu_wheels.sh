#!/usr/bin/env bash
# Fetch, into .whl/ (git-ignored), the wheels that benchmarks/gpu_check.sh installs on a GPU
# machine whose Python has torch, torchvision, numpy and pytest but not the notebook stack
# (the lent device machine: Python 3.12, x86-64, no package index). The versions are those of
# this checkout's .venv, so the GPU grades with the same nbgrader as everywhere else.
#
#   bash benchmarks/gpu_wheels.sh          # 34 wheels, about 31 MB
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# What grading and recording import that such a machine lacks (traced by running `grade` with
# every other package blocked): nbgrader's Gradebook and what it imports, nbformat, and the
# packages whose data the hidden suites read (mlxtend's digits, foolbox's CIFAR-10 images).
PACKAGES="nbgrader nbformat nbconvert nbclient jupyter_core jupyter_client jupyter_server notebook
traitlets sqlalchemy alembic mako fastjsonschema jsonschema jsonschema-specifications referencing
rpds-py platformdirs pyzmq tornado rapidfuzz mistune bleach tinycss2 webencodings defusedxml
beautifulsoup4 soupsieve pandocfilters jupyterlab_pygments rfc3339-validator rfc3986-validator
mlxtend foolbox"
pins=$($PY - $PACKAGES <<'EOF'
import sys
from importlib.metadata import version
print(" ".join(f"{name}=={version(name)}" for name in sys.argv[1:]))
EOF
)
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_26_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 \
    --platform manylinux1_x86_64 -d .whl $pins
echo "$(ls .whl/*.whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/"
