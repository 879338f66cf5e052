"""The shipped sample submissions of HW1 (built by `python -m autograder release`).

Every sample says which questions it must lose (`loses`); all its other questions must score
full marks. tests/test_hw1_grading.py holds each one to that.
"""
from autograder.samples import ALL, Sample

# ---------------------------------------------------------------------------------------
# The two ends: the reference solution as a student would hand it in, and the blank release.
# ---------------------------------------------------------------------------------------
ENDS = [
    Sample("ref_reference", "the reference solution, every blank filled in", loses=()),
    Sample("blank_release", "the release exactly as handed out", base="blank", loses=ALL),
]

# ---------------------------------------------------------------------------------------
# Planted plausible mistakes, one per blank or more: each loses exactly its question.
# ---------------------------------------------------------------------------------------
MISTAKES = [
    Sample('mistake_value_ops', '__mul__ does not wrap plain numbers, so 2 * v, -a (a * -1) and a - b fail',
           edits=(('        other = other if isinstance(other, Value) else Value(other)\n        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")',
                   '        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")'),),
           loses=('value_ops',)),
    Sample('mistake_value_backward', 'backward overwrites the gradient of a reused node instead of accumulating it',
           edits=(('            child.grad += local_grad * v.grad',
                   '            child.grad = local_grad * v.grad'),),
           loses=('value_backward',)),
    Sample('mistake_layers', 'Sigmoid.forward loses the parentheses of the denominator (and backward uses that output)',
           edits=(('        self.out = 1.0 / (1.0 + np.exp(-x))',
                   '        self.out = 1.0 / 1.0 + np.exp(-x)'),),
           loses=('layers',)),
    Sample('mistake_losses', 'softmax cross-entropy without subtracting the row max overflows for logits of 1000',
           edits=(('    shifted = logits - logits.max(axis=1, keepdims=True)',
                   '    shifted = logits'),),
           loses=('losses',)),
    Sample('mistake_mlp_sgd', 'MLP.parameters() forgets the biases, so they are never reported nor trained',
           edits=(('                params.append((layer.W, layer.dW))\n                params.append((layer.b, layer.db))',
                   '                params.append((layer.W, layer.dW))'),),
           loses=('mlp_sgd',)),
    Sample('mistake_grad_check', 'a one-sided finite difference instead of the centered one (error of order eps, not eps^2)',
           edits=(('        x[i] = old - eps\n        fm = float(f(x))\n        x[i] = old\n        grad[i] = (fp - fm) / (2 * eps)',
                   '        x[i] = old\n        fm = float(f(x))\n        grad[i] = (fp - fm) / eps'),),
           loses=('grad_check',)),
    Sample('mistake_training', "the batch's labels are sliced in the original order while its images are shuffled",
           edits=(('            loss, dlogits = softmax_cross_entropy(logits, y[idx])',
                   '            loss, dlogits = softmax_cross_entropy(logits, y[start:start + batch_size])'),),
           loses=('training',)),
]


# ---------------------------------------------------------------------------------------
# Bad input: the run goes on, only what the fault touches gets zero, with a reason.
# ---------------------------------------------------------------------------------------
GRAD_CHECK_CELL = "def numerical_gradient(f, x, eps=1e-6):\n"

BAD = [
    Sample("bad_not_json", "the upload is not JSON at all (a zip renamed to .ipynb, say)",
           raw=b'PK\x03\x04{"cells": [ this is not a notebook', loses=ALL),
    Sample("bad_not_a_notebook", "valid JSON whose structure is not a notebook",
           raw=b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 7}]}',
           loses=ALL),
    Sample("bad_syntax_error", "a syntax error in the gradient-check cell",
           edits=(("    grad = np.zeros_like(x)\n", "    grad = np.zeros_like(x\n"),), loses=("grad_check",)),
    Sample("bad_blank_left", "the training blank left as released",
           from_release=("training_impl",), loses=("training",)),
    Sample("bad_infinite_loop", "`while True: pass` at the top of the gradient-check cell",
           edits=((GRAD_CHECK_CELL, "while True:\n    pass\n\n\n" + GRAD_CHECK_CELL),), loses=("grad_check",)),
    Sample("bad_sys_exit", "sys.exit() at the end of a cell: the cell's definitions still count",
           edits=((GRAD_CHECK_CELL, "import sys\n\n\n" + GRAD_CHECK_CELL),),
           append="sys.exit('done')", loses=()),
    Sample("bad_os_exit", "os._exit(0) at the top of the gradient-check cell",
           edits=((GRAD_CHECK_CELL, "import os\nos._exit(0)\n\n\n" + GRAD_CHECK_CELL),), loses=("grad_check",)),
    Sample("bad_segfault", "a hard crash (SIGSEGV) at the top of the gradient-check cell",
           edits=((GRAD_CHECK_CELL, "import ctypes\nctypes.string_at(0)\n\n\n" + GRAD_CHECK_CELL),),
           loses=("grad_check",)),
    Sample("bad_memory_bomb", "allocates 400 GB in a cell of its own",
           append="huge = np.ones((50_000, 1_000_000))", loses=()),
    Sample("bad_print_flood", "prints 100 MB",
           append="print('x' * 100_000_000)", loses=()),
    Sample("bad_import_error", "imports a package the grader does not have",
           edits=(("np.set_printoptions(precision=4, suppress=True)",
                   "np.set_printoptions(precision=4, suppress=True)\nimport seaborn_is_not_installed"),),
           loses=()),
    Sample("bad_renamed_function", "renamed softmax_cross_entropy (train() calls it by name too)",
           edits=(("def softmax_cross_entropy(logits, labels):", "def softmax_xent(logits, labels):"),),
           loses=("losses", "training")),
]

# ---------------------------------------------------------------------------------------
# Cheating: none of it may earn a point, leave a process behind or change a course file.
# Built on the blank release, so any point earned would be the cheat's.
# ---------------------------------------------------------------------------------------
CHEATS = [
    Sample("cheat_steal_solution", "finds the source notebook and the hidden tests and runs the solution",
           base="blank", loses=ALL, append='''
import json, pathlib, assignments
root = pathlib.Path(assignments.__file__).resolve().parent.parent
stolen = []
for path in list(root.glob("source/*/*.ipynb")) + list(root.glob("autograder/tests/*/*.py")):
    try:
        stolen.append(path.read_text())
        if path.suffix == ".ipynb":
            for cell in json.loads(path.read_text())["cells"]:
                if cell["cell_type"] == "code":
                    exec("".join(cell["source"]), globals())
    except Exception:
        pass
'''),
    Sample("cheat_patch_comparisons", "a real mistake plus patched numpy/torch/pytest comparisons",
           edits=(("    shifted = logits - logits.max(axis=1, keepdims=True)", "    shifted = logits"),),
           loses=("losses",), append='''
import numpy, numpy.testing, torch, torch.testing, pytest, _pytest.runner
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
_pytest.runner.TestReport = type("AlwaysPassed", (), {"outcome": "passed", "passed": True})
'''),
    Sample("cheat_exit_early", "exits with status 0 before anything can fail",
           base="blank", loses=ALL, append="import os\nos._exit(0)"),
    Sample("cheat_fork_survivor", "leaves a daemon behind that keeps writing",
           base="blank", loses=ALL, append='''
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            for target in ("/tmp/cheat_survivor_was_here",):
                try:
                    open(target, "a").write("alive\\n")
                except OSError:
                    pass
            time.sleep(0.05)
    os._exit(0)
'''),
    Sample("cheat_vandalize", "deletes and rewrites course files, the gradebook and stored results",
           base="blank", loses=ALL, append='''
import os, shutil, pathlib, json, assignments
root = pathlib.Path(assignments.__file__).resolve().parent.parent
for victim in ["gradebook", "source", "release", "autograder", "course_config.py", "samples"]:
    path = root / victim
    try:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    except Exception:
        pass
try:
    (root / "gradebook" / "results" / "hw1_backprop").mkdir(parents=True, exist_ok=True)
    (root / "gradebook" / "results" / "hw1_backprop" / "cheat_vandalize.json").write_text(json.dumps({"score": 100}))
except Exception:
    pass
'''),
    Sample("cheat_forge_results", "writes fake 'passed' results into the grader's pipe",
           base="blank", loses=ALL, append='''
import os, json, struct
fake = {"event": "result", "name": "training", "data": {"accuracy": 1.0}}
msg = json.dumps(fake).encode()
for fd in range(3, 64):
    try:
        os.write(fd, struct.pack(">I", len(msg)) + msg)
    except OSError:
        pass
'''),
]


SAMPLES = ENDS + MISTAKES + BAD + CHEATS
