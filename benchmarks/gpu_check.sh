#!/usr/bin/env bash
# The GPU checks, in one run on the grading machine (the lent device machine, or the course's GPU
# box): calibrate HW2 on the GPU, then grade HW2's samples on it, one at a time, through the CLI
# as an instructor does. Everything it measured lands in $OUT.
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh [cuda|cpu]      (cpu: the dry run, here)
#
# The lent machine's python3 has torch, torchvision, numpy and pytest, but not nbgrader and the
# notebook stack: those travel as wheels in .whl/ (git-ignored; `bash benchmarks/gpu_wheels.sh`
# fetches them) and are installed offline into a folder named site-packages, which the
# sandbox binds read-only for the student's process like any other installed package.
# MiniLM and the HW3 corpus (80 MB and more) do not fit the 64 MiB that travels: HW3 and HW4
# are not part of this run. Ray travels core-only as .whl/ray.tar.xz (gpu_wheels.sh, PACK=1).
set -u
DEVICE=${1:-cuda}
OUT=${OUT:-/tmp/gpu_check}   # what comes back: gpu_check.tgz (everything), $DEVICE.json, times.txt
W=${WORK:-/tmp/gpu_check_work}  # each step's output, packed into $OUT at the end
PY=${PY:-python3}
rm -rf "$W" && mkdir -p "$OUT" "$W"
T0=$(date +%s)
DEADLINE=$(( T0 + ${BUDGET_S:-520} ))  # the whole run, inside one device call's limit
log() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }
within() { local left=$(( DEADLINE - $(date +%s) - 10 )); [ "$left" -lt "$1" ] && echo "$left" || echo "$1"; }

if [ -z "${SKIP_WHEELS:-}" ] && { [ -f .whl/wheels.tar.xz ] || ls .whl/*.whl >/dev/null 2>&1; }; then
  WHEELS=.whl
  if [ -f .whl/wheels.tar.xz ]; then  # PACK=1 bash benchmarks/gpu_wheels.sh: the form that fits with Ray
    WHEELS=$(mktemp -d) && tar xJf .whl/wheels.tar.xz -C "$WHEELS" || exit 3
  fi
  log "installing $(ls "$WHEELS"/*.whl | wc -l) wheels offline"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /opt/course/site-packages "$WHEELS"/*.whl || exit 3
  if [ -f .whl/ray.tar.xz ]; then
    log "unpacking Ray (core only)"
    tar xJf .whl/ray.tar.xz -C /opt/course/site-packages || exit 3
  fi
  export PYTHONPATH=/opt/course/site-packages PATH=/opt/course/site-packages/bin:$PATH  # nbgrader runs `alembic`
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export COURSE_GRADEBOOK_DIR=${COURSE_GRADEBOOK_DIR:-/tmp/gpu_check_gradebook}
rm -rf "$COURSE_GRADEBOOK_DIR" /tmp/gpu_check_full && mkdir -p "$COURSE_GRADEBOOK_DIR"
pack() { tar czf "$OUT/gpu_check.tgz" -C / "${W#/}" "${COURSE_GRADEBOOK_DIR#/}" $([ -d /tmp/gpu_check_full ] && echo tmp/gpu_check_full) 2>/dev/null; }
trap pack EXIT

{ nvidia-smi 2>&1 | head -15
  $PY -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__,
'torchvision', torchvision.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available()
and torch.cuda.get_device_name(0)); print('cpus', __import__('os').cpu_count())"
} 2>&1 | tee "$W/machine.txt"

# Isolation as everywhere else; without namespaces (a container that forbids them) the run still
# measures, unprotected, and says so.
ISOLATION=$($PY -c "from autograder.sandbox import mounts; print(mounts.probe_support() or '')")
EXTRA=()
[ -n "$ISOLATION" ] && { echo "no isolation here: $ISOLATION: grading with --no-isolation" | tee -a "$W/machine.txt"; EXTRA=(--no-isolation); }

# The cpu dry run leaves the committed calibration/cpu.json alone unless asked (CALIBRATE=1).
[ "$DEVICE" = cpu ] && [ -z "${CALIBRATE:-}" ] && SKIP_CALIBRATE=1
log "calibrate hw2_cnn --device $DEVICE${SKIP_CALIBRATE:+ (skipped)}"
[ -n "${SKIP_CALIBRATE:-}" ] || timeout -s INT -k 20 "$(within "${CALIBRATE_S:-150}")" $PY -m autograder calibrate hw2_cnn --device "$DEVICE" 2>&1 | tee "$W/calibrate.txt"
cp "calibration/$DEVICE.json" "$OUT/" "$W/" 2>/dev/null

# The loops that are slow only on a GPU are generated from the reference (samples/hw2_cnn.py);
# GENERATED="GPU_SLOW GPU_CRASH" adds the GPU-only crashes.
$PY - <<'PYEOF'
import importlib.util, os, nbformat
import course_config as cfg
from autograder import samples
spec = importlib.util.spec_from_file_location("hw2_samples", cfg.SAMPLES_DIR / "hw2_cnn.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
hw2 = cfg.ASSIGNMENTS["hw2_cnn"]
for sample in (s for name in os.environ.get("GENERATED", "GPU_SLOW").split() for s in getattr(module, name)):
    path = samples.path_of(sample, hw2, "/tmp/gpu_samples")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(samples.notebook_for(sample, hw2), path)
    print("wrote", path)
PYEOF

grade() {  # grade NAME SECONDS PATH...: one CLI run, one submission at a time (one GPU: --workers 1);
          # BACKEND=ray WORKERS=2 grade ...: the same through Ray
  local name=$1 limit; limit=$(within "$2"); shift 2
  [ "$#" -gt 0 ] || return 0
  [ "$limit" -gt 20 ] || { log "skipped $name: no time left"; return; }
  log "grade $name: $# submission(s)"
  local t=$(date +%s%N)
  timeout -s INT -k 20 "$limit" $PY -m autograder grade hw2_cnn "$@" --device "$DEVICE" --workers "${WORKERS:-1}" --backend "${BACKEND:-local}" "${EXTRA[@]}" \
      --json "$W/$name.json" 2>&1 | grep -v "it/s\|sub/s" | tee "$W/$name.txt"
  echo "$name: $(( ($(date +%s%N) - t) / 1000000 )) ms wall for $# submission(s)" | tee -a "$W/times.txt" "$OUT/times.txt"
}
S=samples/submitted
[ -n "${SKIP_REFERENCE:-}" ] || grade reference "${REFERENCE_S:-120}" $S/ref_reference
if [ ${#EXTRA[@]} -eq 0 ] && grep -q "sandbox did not start" "$W/reference.json" 2>/dev/null; then
  echo "the sandbox failed to start here (its traceback is above): measuring with --no-isolation" | tee -a "$W/machine.txt"
  EXTRA=(--no-isolation)
  grade reference_no_isolation "${REFERENCE_S:-120}" $S/ref_reference
fi
# Which shipped samples each batch grades besides the generated GPU-slow ones (a later run can leave
# out what an earlier one measured): names under samples/submitted/.
SLOW_SET=${SLOW_SET-slow_per_sample slow_python_lists slow_new_optimizer bad_cuda_hardcoded style_loops_samplers}
REST_SET=${REST_SET-blank_release style_numpy_modulelist style_loader_workers cheat_slow_reference mistake_train_loop mistake_train_no_zero_grad cheat_fake_clock}
in_samples() { for name in "$@"; do echo "$S/$name"; done; }
grade gpu_slow "${SLOW_S:-200}" /tmp/gpu_samples/* $(in_samples $SLOW_SET)
# The full GPU budget trains 2 epochs on CIFAR-10's 50,000 images, which cannot travel here: the
# reference is timed once more on random images in CIFAR-10's own format (the same loader, the
# same arithmetic). Its accuracy is meaningless and nothing of it is kept but the time.
if [ "$DEVICE" = cuda ] && [ -z "${SKIP_FULL:-}" ]; then
  log "synthetic CIFAR-10 (random images, the real file format) for the full budget's timing"
  $PY - <<'PYEOF'
import pickle, numpy as np, pathlib
d = pathlib.Path("/tmp/cifar_synthetic/cifar-10-batches-py"); d.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    batch = {b"data": rng.integers(0, 256, (10000, 3072), dtype=np.uint8),
             b"labels": rng.integers(0, 10, 10000).tolist()}
    (d / name).write_bytes(pickle.dumps(batch))
(d / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))
PYEOF
  COURSE_CIFAR10_DIR=/tmp/cifar_synthetic/cifar-10-batches-py COURSE_GRADEBOOK_DIR=/tmp/gpu_check_full \
    grade full_budget_synthetic "${FULL_S:-200}" $S/ref_reference
fi

grade rest "${REST_S:-150}" $(in_samples $REST_SET)

# The Ray backend on the GPU (when Ray was carried): the same command with --backend ray and two
# workers asked for. Each GPU-profile worker asks Ray for num_gpus=1, so on one GPU the second never
# starts and the submissions are graded one after another; their scores must be the local ones.
if [ -z "${SKIP_RAY:-}" ] && $PY -c "import ray" 2>/dev/null; then
  RAY_SET=${RAY_SET-ref_reference blank_release mistake_train_loop}
  BACKEND=ray WORKERS=2 grade ray "${RAY_S:-150}" $(in_samples $RAY_SET)
  $PY - "$W" <<'PYEOF' 2>&1 | tee "$W/ray_compare.txt" | tee -a "$OUT/times.txt"
import json, pathlib, sys
w = pathlib.Path(sys.argv[1])
def load(name):
    path = w / f"{name}.json"
    return {r["student"]: r for r in json.loads(path.read_text())} if path.exists() else {}
local = {**load("reference"), **load("reference_no_isolation"), **load("gpu_slow"), **load("rest")}
ray = load("ray")
def verdict(r):  # what a student sees, less the measured figures that vary between two runs
    return (r["status"], r["score"], [(q["id"], q["score"]) for q in r["questions"]])
for student, r in sorted(ray.items()):
    other = local.get(student)
    same = "no local result to compare" if other is None else ("same as local" if verdict(r) == verdict(other)
                                                                else f"DIFFERS from local {verdict(other)}")
    print(f"ray {student}: {r['status']} {r['score']}/{r['max_score']}: {same}")
print(f"ray: {len(ray)} graded")
PYEOF
fi

log done
