#!/usr/bin/env bash
# Fetch, into .whl/ (git-ignored), the wheels that benchmarks/gpu_check.sh installs on a GPU
# machine whose Python has torch, torchvision, numpy and pytest but not the notebook stack
# (the lent device machine: Python 3.12, x86-64, no package index). The versions are those of
# this checkout's .venv, so the GPU grades with the same nbgrader as everywhere else.
#
#   bash benchmarks/gpu_wheels.sh          # 34 wheels, about 31 MB
#   PACK=1 bash benchmarks/gpu_wheels.sh   # and .whl/wheels.tar.xz (23 MB) + .whl/ray.tar.xz (23 MB)
#
# What travels to that machine is at most 64 MiB: the 34 wheels and Ray's 79 MB wheel do not fit
# as they are. PACK=1 stores each wheel uncompressed and xz-compresses them together (pip installs
# a stored wheel as it does a deflated one: RECORD hashes the files, not their compression), and
# unpacks Ray's wheel without what a grading worker never loads (the Java jar, the dashboard's web
# client, RLlib, Tune, Train, Serve). gpu_check.sh uses the tarballs when they are there; carry
# them with carry=[".whl/wheels.tar.xz", ".whl/ray.tar.xz"].
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
[ -n "${PACK:-}" ] || exit 0
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/wheels" "$TMP/ray"
$PY - "$TMP/wheels" .whl/*.whl <<'EOF'
import sys, zipfile, pathlib
out = pathlib.Path(sys.argv[1])
for wheel in map(pathlib.Path, sys.argv[2:]):
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out / wheel.name, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename), compress_type=zipfile.ZIP_STORED)
EOF
tar cf - -C "$TMP/wheels" . | xz -9 -T2 > .whl/wheels.tar.xz
RAY=$($PY -c "from importlib.metadata import version; print(version('ray'))")
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d "$TMP" "ray==$RAY"
(cd "$TMP/ray" && unzip -q "$TMP"/ray-*.whl)
tar cf - -C "$TMP/ray" --exclude=./ray/jars --exclude=./ray/dashboard/client/build --exclude=./ray/rllib \
    --exclude=./ray/tune --exclude=./ray/train --exclude=./ray/serve --exclude='*.map' . | xz -9 -T2 > .whl/ray.tar.xz
ls -la .whl/*.tar.xz
