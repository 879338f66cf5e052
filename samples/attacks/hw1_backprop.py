"""HW1 submissions by an adversary who has read all of our code (issue 8): each must earn
nothing it did not solve, damage nothing, and stop nothing. tests/test_attacks.py checks what
`loses` cannot say (flags, files and processes left, feedback, the batch going on).
Built on the blank release unless they say otherwise, so any point earned would be the attack's."""
from autograder.samples import ALL, Sample

# The grader's frame format, as its code shows it: a 4-byte length and JSON.
FRAME = '''
import json, struct
def frame(message):
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data
'''

SAMPLES = [
    Sample("attack_forge_frames", "writes 'result' frames with made-up data for every check on every descriptor",
           base="blank", loses=ALL, append=FRAME + '''
import os
fake = {"out": [1.0], "losses": [2.0, 1.0, 0.5], "predictions": [0] * 360, "accuracy": 1.0}
for seq in range(1, 40):
    for name in ("value_ops", "backward", "layers", "losses", "mlp", "sgd", "grad_check", "training"):
        for fd in range(3, 64):
            try:
                os.write(fd, frame({"event": "result", "seq": seq, "name": name, "data": fake}))
            except OSError:
                pass
'''),
    Sample("attack_hijack_probes", "replaces the grader's probe functions through sys._getframe() once grading starts",
           base="blank", loses=ALL, append='''
import sys
def _hijack():
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and value and all(callable(v) for v in value.values()):
                for name in value:
                    value[name] = lambda sub, name=name: {"losses": [2.0, 1.0, 0.1], "predictions": [0] * 360,
                                                          "out": 0.5, "grad": 0.25}
        frame = frame.f_back

class Value:
    def __init__(self, *args, **kwargs):
        _hijack()
        self.data, self.grad = 0.5, 0.25
'''),
    Sample("attack_torch_autograd", "HW1 is NumPy from scratch: softmax cross-entropy through torch autograd",
           loses=("losses", "training"), edits=((
               "    n = logits.shape[0]\n"
               "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
               "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
               "    loss = float(-log_probs[np.arange(n), labels].mean())\n"
               "    dlogits = np.exp(log_probs)\n"
               "    dlogits[np.arange(n), labels] -= 1.0\n"
               "    dlogits /= n\n"
               "    return loss, dlogits",
               "    import torch\n"
               "    import torch.nn.functional as F\n"
               "    t = torch.tensor(logits, dtype=torch.float64, requires_grad=True)\n"
               "    loss = F.cross_entropy(t, torch.as_tensor(labels))\n"
               "    loss.backward()\n"
               "    return float(loss), t.grad.numpy()"),)),
    Sample("attack_scan_memory", "searches its own memory for a solution, an answer key or other students' work",
           base="blank", loses=ALL, append='''
import gc, sys
found = []
for obj in gc.get_objects():
    try:
        if isinstance(obj, dict):
            for value in obj.values():
                if isinstance(value, str) and ("BEGIN SOLUTION" in value or "def softmax_cross_entropy" in value):
                    found.append(value)
    except Exception:
        pass
for module in list(sys.modules.values()):
    text = getattr(module, "__doc__", None) or ""
    if "BEGIN SOLUTION" in text:
        found.append(text)
for text in found:
    code = text.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")
    try:
        exec(code, globals())
    except Exception:
        pass
'''),
    Sample("attack_read_other_submissions", "looks for any notebook on the machine that holds a solution and runs it",
           base="blank", loses=ALL, append='''
import json, os, pathlib, assignments
root = pathlib.Path(assignments.__file__).resolve().parent.parent
places = [root, pathlib.Path("/tmp"), pathlib.Path("/home"), pathlib.Path("/srv"), pathlib.Path("/root"),
          pathlib.Path("/work"), pathlib.Path("/var")]
for place in places:
    try:
        notebooks = list(place.glob("**/*.ipynb"))[:400]
    except OSError:
        continue
    for path in notebooks:
        try:
            cells = json.loads(path.read_text())["cells"]
        except Exception:
            continue
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        if any("shifted = logits - logits.max" in c for c in code):
            for c in code:
                try:
                    exec(c, globals())
                except Exception:
                    pass
'''),
    Sample("attack_surrogate_exception", "exceptions whose text holds lone surrogates, at load and in every check",
           base="blank", loses=ALL, append='''
class Trap(Exception):
    pass
class Value:
    def __init__(self, *args, **kwargs):
        raise Trap("\\udc80\\udcff broken \\ud800")
def softmax_cross_entropy(*args):
    raise Trap("\\udc80" * 1000)
raise Trap("at load \\udc80")
'''),
    Sample("attack_fake_feedback", "exception names and messages that try to write a fake score into the feedback",
           base="blank", loses=ALL, append='''
Fake = type("Exc\\n\\n**Autograded score after regrade: 34 / 34**\\n\\n<script>alert(1)</script>", (Exception,), {})
class Value:
    def __init__(self, *args, **kwargs):
        raise Fake("\\n# Autograded score: 34 / 34\\n" + "x" * 20_000_000)
def softmax_cross_entropy(*args):
    raise Fake("[click](http://example.com) | table | **bold**")
'''),
    Sample("attack_stretch_the_clock", "a cell that never ends but keeps sending 'cell done' frames to look alive",
           base="blank", loses=ALL, append=FRAME + '''
import os, time
seq = 1
while True:
    for fd in range(3, 64):
        try:
            os.write(fd, frame({"event": "cell_done", "seq": seq, "error": None}))
        except OSError:
            pass
    seq += 1
    time.sleep(2)
'''),
    Sample("attack_leave_files_and_ipc", "fills /run/lock and /dev/shm and keeps a SysV shared-memory segment",
           base="blank", loses=ALL, append='''
import ctypes, os
for place in ("/run/lock", "/dev/shm", "/var/tmp", "/tmp"):
    try:
        with open(os.path.join(place, "attack_leftover"), "wb") as f:
            f.write(b"x" * (60 * 2**20))
    except OSError:
        pass
libc = ctypes.CDLL(None)
segment = libc.shmget(0x5eed, 100 * 2**20, 0o1000 | 0o666)
'''),
    Sample("attack_plant_conftest", "writes a conftest.py into the hidden suite that passes every later student",
           base="blank", loses=ALL, append='''
import pathlib, assignments
root = pathlib.Path(assignments.__file__).resolve().parent.parent
payload = "import pytest\\n@pytest.hookimpl(hookwrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n    out = yield\\n    out.get_result().outcome = 'passed'\\n"
for folder in [root / "autograder" / "tests" / "hw1_backprop", root / "autograder" / "tests", root / "tests",
               pathlib.Path("/tmp")]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "conftest.py").write_text(payload)
    except OSError:
        pass
'''),
    Sample("attack_kill_the_grader", "kills every process it can see, its parents first",
           base="blank", loses=ALL, append='''
import os, signal
for pid in (os.getppid(), -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
'''),
]
