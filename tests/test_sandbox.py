"""The sandbox contains what a submission does: time, memory, output, exits, processes,
files, IPC, network, and lies told on the grader's channel. Run in both isolation modes that
this machine offers: as root ("root": namespaces and a uid per slot) and in an unprivileged
user namespace ("user", what a normal user's grading run gets)."""
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import course_config as cfg
from autograder import grading
from autograder.notebook import Cell
from autograder.probe import Failed
from autograder.sandbox import Sandbox, mounts
from autograder.sandbox.supervisor import processes_of_uid

TESTS = str(Path(__file__).resolve().parent)
PROBES = ["add", "slow", "snoop", "returns_impostor"]
TIMEOUTS = {"add": 10, "slow": 2, "snoop": 10, "returns_impostor": 10, "scribble": 10}
SLOT = 15  # a slot no real grading run in this process uses
MODES = ["root", "user"] if os.geteuid() == 0 else ["user"]
if os.geteuid() != 0 and mounts.probe_support() is not None:
    MODES = []
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="a uid per slot needs root")
HEADER = f"COURSE_ROOT = {str(cfg.ROOT)!r}\n"


MARK = f"sbx-test-{os.getpid()}"


@pytest.fixture(scope="module", params=MODES)
def box(request):
    os.environ["SANDBOX_TEST_MARK"] = MARK  # inherited by the zygote and every process it forks
    try:
        sandbox = Sandbox("sandbox_probes", ("numpy",), grading.policy(), request.param, suite_path=TESTS)
    finally:
        del os.environ["SANDBOX_TEST_MARK"]
    yield sandbox
    sandbox.close()


def run(box, *sources, names=PROBES, **policy_changes):
    cells = [Cell(i, "code", HEADER + src, None, "q", True) for i, src in enumerate(sources)]
    policy = replace(box.policy, **policy_changes) if policy_changes else None
    return box.run(cells, list(names), TIMEOUTS, SLOT, policy)


GOOD = "def add(a, b):\n    return a + b\n"


def message(report, name):
    value = report.probes[name]
    assert isinstance(value, Failed), f"{name} should have failed, got {value!r}"
    return value.message


@pytest.mark.parametrize("mode", MODES)
def test_a_suite_that_cannot_be_prepared_is_the_graders_error_and_names_why(mode):
    """Before any student code runs, a failure is the grader's (nothing recorded), and the instructor
    reads its cause: here the hidden suite's `prepare()` imports a package this machine lacks."""
    sandbox = Sandbox("sandbox_unprepared", ("numpy",), grading.policy(), mode, suite_path=TESTS)
    try:
        report = sandbox.run([Cell(0, "code", GOOD, None, "q", True)], ["add"], {"add": 10}, SLOT)
    finally:
        sandbox.close()
    assert report.grader_error == ("the sandbox did not start (setting it up failed: ModuleNotFoundError: "
                                   "No module named 'a_data_package_this_machine_lacks')")
    assert report.probes["add"].message.startswith("not checked: the sandbox did not start")


def test_results_arrive_as_plain_data(box):
    report = run(box, GOOD, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert report.load_failure is None and report.suspicious == []


def test_syntax_error_costs_only_its_cell(box):
    report = run(box, GOOD, "def broken(:\n    pass\n", names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert report.cell_errors[0][0] == "cell 2" and "SyntaxError" in report.cell_errors[0][2]


def test_missing_function_is_named(box):
    report = run(box, "def plus(a, b):\n    return a + b\n", names=["add"])
    assert "`add` is not defined in your notebook" in message(report, "add")


def test_exceptions_point_at_the_students_cell_and_line(box):
    report = run(box, "def add(a, b):\n    x = 1\n    return a + b + None\n", names=["add"])
    text = message(report, "add")
    assert text.startswith("TypeError") and "cell 1, line 4, in add" in text


def test_infinite_loop_in_a_check_costs_that_check_only(box):
    report = run(box, GOOD + "def slow():\n    while True:\n        pass\n", names=["add", "slow", "snoop"])
    assert "longer than 2 s" in message(report, "slow")
    assert report.probes["add"] == {"sum": 5} and not isinstance(report.probes["snoop"], Failed)


def test_loop_that_ignores_the_alarm_is_killed_and_the_rest_still_runs(box):
    loop = ("def slow():\n    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "    while True:\n        pass\n")
    started = time.monotonic()
    report = run(box, GOOD + loop, names=["slow", "add"])
    assert "the grader stopped it" in message(report, "slow")
    assert report.probes["add"] == {"sum": 5}
    assert time.monotonic() - started < 20


def test_a_cell_that_hangs_at_load_is_skipped_and_the_rest_runs(box):
    report = run(box, "while True:\n    pass\n", GOOD, names=["add"], load_timeout_s=3)
    assert report.probes["add"] == {"sum": 5} and report.load_failure is None
    label, _, text = report.cell_errors[0]
    assert label == "cell 1" and "did not finish within 3 s" in text and "skipped it" in text


def test_all_cells_together_have_a_budget(box):
    nap = "import time\ntime.sleep(1.5)\n"
    report = run(box, nap, nap, nap, GOOD, names=["add"], load_total_s=3)
    assert any("all your code cells together" in text for _, _, text in report.cell_errors)


def test_a_notebook_that_keeps_dying_is_a_crash_with_a_reason(box):
    dies = "import os\nos._exit(0)\n"
    report = run(box, dies, dies, dies, dies, GOOD, names=["add"])
    assert report.load_failure.startswith("cell 4 ended the process (exit code 0")
    assert "not checked" in message(report, "add")


@pytest.mark.parametrize("exit_code", ["import sys; sys.exit(0)", "raise SystemExit(1)"])
def test_sys_exit_in_a_cell_is_an_error_of_that_cell(box, exit_code):
    report = run(box, GOOD, exit_code, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert "sys.exit" in report.cell_errors[0][2]


def test_os_exit_inside_a_check(box):
    report = run(box, "def add(a, b):\n    import os\n    os._exit(0)\n", names=["add", "snoop"])
    assert "ended the process (exit code 0" in message(report, "add")
    assert not isinstance(report.probes["snoop"], Failed)


def test_memory_bomb_is_a_memory_error(box):
    report = run(box, GOOD, "import numpy as np\nx = np.ones(int(50e9) // 8)\n", names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert "MemoryError" in report.cell_errors[0][2]


def test_memory_watchdog_kills_growth_past_the_cap(box):
    grow = "import numpy as np\nblocks = []\nfor _ in range(400):\n    blocks.append(np.ones(2**20))\n"
    report = run(box, GOOD, grow, names=["add"], memory_cap="watchdog", memory_mb=200)
    assert report.probes["add"] == {"sum": 5}
    assert "used more than 200 MB of memory" in report.cell_errors[0][2]


def test_memory_of_child_processes_counts_too(box):
    grow = ("import os, time, numpy as np\n"
            "if os.fork() == 0:\n    blocks = [np.ones(2**20) for _ in range(400)]\n    time.sleep(60)\n"
            "time.sleep(30)\n")
    report = run(box, GOOD, grow, names=["add"], memory_cap="watchdog", memory_mb=200)
    assert report.probes["add"] == {"sum": 5}
    assert "used more than 200 MB of memory" in report.cell_errors[0][2]


def test_printing_100_mb_is_discarded(box):
    started = time.monotonic()
    report = run(box, GOOD, "print('x' * 100_000_000)\nimport os\nos.write(1, b'y' * 10_000_000)\n", names=["add"])
    assert report.probes["add"] == {"sum": 5} and not report.cell_errors
    assert time.monotonic() - started < 20


def test_objects_that_pretend_to_be_numbers_are_flattened(box):
    impostor = ("import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                "def impostor():\n    return np.zeros(3).view(Liar)\n")
    report = run(box, impostor, names=["returns_impostor"])
    value = report.probes["returns_impostor"]["value"]
    assert type(value) is np.ndarray and not (value == np.ones(3)).any()


FORGE = ("import os, json, struct\n"
         "def frame(message):\n    data = json.dumps(message).encode()\n    return struct.pack('>I', len(data)) + data\n"
         "for fd in range(3, 64):\n"
         "    for message in ({'event': 'result', 'seq': 2, 'name': 'add', 'data': {'sum': 999}},\n"
         "                    {'event': 'cell_done', 'seq': 5, 'error': None}):\n"
         "        try:\n            os.write(fd, frame(message))\n"
         "        except OSError:\n            pass\n")


def test_frames_the_grader_did_not_ask_for_end_the_run_and_are_flagged(box):
    report = run(box, GOOD, FORGE, names=["add"])
    assert report.probes["add"] != {"sum": 999} and "interfered with the grader's channel" in message(report, "add")
    assert report.suspicious and report.load_failure


def test_garbage_on_the_channel_is_a_clear_failure(box):
    garbage = ("import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'\\xff' * 64)\n"
               "    except OSError:\n        pass\n")
    report = run(box, GOOD, garbage, names=["add"])
    assert "interfered with the grader's channel" in message(report, "add")


def test_a_lone_surrogate_or_a_huge_message_is_made_safe(box):
    raises = "def add(a, b):\n    raise ValueError('\\udc80' + 'x' * 30_000_000)\n"
    report = run(box, raises, names=["add"])
    text = message(report, "add")
    assert len(text) < 3000 and "\udc80" not in text
    text.encode("utf-8")


def test_the_student_sees_only_the_allow_list(box):
    report = run(box, GOOD, names=["snoop"])
    seen = report.probes["snoop"]
    assert not any(seen["seen"].values()), seen["seen"]
    assert isinstance(seen["write"], Failed) and isinstance(seen["net"], Failed)
    assert seen["cwd"] == "/tmp"
    assert seen["processes"] in (1, 2)  # itself (and nothing of the host) in its own PID namespace
    assert seen["parent"] == 0
    assert not {"root", "home", "work", "var", "run", "mnt", "srv", "opt"} & set(seen["root_listing"]) - {
        p.strip("/").split("/")[0] for p in box.policy.visible}


@ROOT_ONLY
def test_root_mode_drops_to_the_slot_uid(box):
    if box.mode != "root":
        pytest.skip("root mode only")
    report = run(box, GOOD, names=["snoop"])
    assert report.probes["snoop"]["uid"] == box.slot_uid(SLOT)


def test_no_process_outlives_the_run(box):
    escape = ("import os, time\n"
              "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        while True:\n            time.sleep(0.1)\n    os._exit(0)\n")
    report = run(box, GOOD, escape, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    time.sleep(0.3)
    if box.mode == "root":
        assert processes_of_uid(box.slot_uid(SLOT)) == []
    assert _leftovers(box) == []


def _leftovers(box) -> list[int]:
    """Live processes forked from this test's zygote (they carry its environment), but it."""
    left = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if f"SANDBOX_TEST_MARK={MARK}".encode() in environ and state not in "ZX" \
                and int(entry) != box.zygote.process.pid:
            left.append(int(entry))
    return left


def test_files_the_grader_has_open_are_out_of_reach(box, tmp_path):
    log = open(tmp_path / "grader.log", "w")  # e.g. the gradebook or a log file
    try:
        scribble = ("import os\nfor fd in range(3, 256):\n    try:\n        os.write(fd, b'scribble')\n"
                    "    except OSError:\n        pass\n")
        run(box, GOOD, scribble, names=["add"])
    finally:
        log.close()
    assert (tmp_path / "grader.log").read_text() == ""


def test_writes_vanish_with_the_run(box):
    report = run(box, GOOD, names=["scribble"])
    assert report.probes["scribble"]["scratch_file"] is True
    assert report.probes["scribble"]["/run/lock/sandbox_test_scribble"] is False
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        assert not Path(place, "sandbox_test_scribble").exists()


def _shm_segments() -> set:
    with open("/proc/sysvipc/shm") as f:
        return {line.split()[1] for line in f.readlines()[1:]}


def test_ipc_is_private_and_vanishes(box):
    before = _shm_segments()
    shm = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
           "segment = libc.shmget(0, 50 * 2**20, 0o1000 | 0o666)\n"
           "assert segment >= 0\n")
    report = run(box, GOOD, shm, names=["add"])
    assert report.cell_errors == [] and report.probes["add"] == {"sum": 5}
    assert _shm_segments() <= before


def test_the_whole_standard_library_is_importable(box):
    """Python may live where the sandbox's uid cannot go (pyenv under a 0700 /root)."""
    probe_imports = ("import secrets, random, statistics, fractions, decimal, csv, sqlite3, uuid\n"
                     "def add(a, b):\n    return a + b\n")
    report = run(box, probe_imports, names=["add"])
    assert report.cell_errors == [] and report.probes["add"] == {"sum": 5}


def test_a_forbidden_package_cannot_be_imported(box):
    import importlib.util

    from autograder.sandbox import masked_packages
    masked = masked_packages(["torch"], "HW1")
    if not masked:
        pytest.skip("torch is not installed")
    report = run(box, "import torch\n", GOOD, names=["add"], masked=masked)
    assert report.probes["add"] == {"sum": 5}
    assert "torch is not allowed in HW1" in report.cell_errors[0][2]
    assert importlib.util.find_spec("torch") is not None  # only the student's view changed


def test_stack_and_memory_hold_nothing_of_the_grader(box):
    """The student's process was forked from a zygote that holds libraries only: no frame of
    the grading loop above it, no gradebook or judge module in memory."""
    look = ("import sys, gc\n"
            "frames = []\nf = sys._getframe()\nwhile f:\n    frames.append(f.f_code.co_filename)\n    f = f.f_back\n"
            "MODULES = sorted(m for m in sys.modules if m.startswith(('autograder', 'nbgrader', 'course_config')))\n"
            "FRAMES = frames\n"
            "def add(a, b):\n    return len([m for m in MODULES if 'grading' in m or 'gradebook' in m or 'judge' in m"
            " or 'nbgrader' in m]) + len([f for f in FRAMES if 'grading' in f]) + a + b\n")
    report = run(box, look, names=["add"])
    assert report.probes["add"] == {"sum": 5}


def test_dataloader_worker_processes_work_whatever_the_grading_workers(box):
    """DataLoader(num_workers=2) forks its own workers: a student's process is not a daemon
    (it is forked from the zygote, not from a pool worker), whatever --workers the grader ran."""
    loader = ("import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
              "data = TensorDataset(torch.arange(64.0).reshape(32, 2))\n"
              "TOTAL = sum(float(b[0].sum()) for b in DataLoader(data, batch_size=8, num_workers=2))\n"
              "def add(a, b):\n    return a + b + TOTAL - 2016\n")
    report = run(box, loader, names=["add"])
    assert report.cell_errors == [] and report.probes["add"] == {"sum": 5}


def test_a_course_checked_out_under_tmp_stays_reachable(box, tmp_path):
    """CI clones the course under /tmp, which the sandbox replaces with a private tmpfs: what
    is allowed (here a package folder under /tmp) is bound back on top of it, nothing else."""
    package = tmp_path / "checkout"
    package.mkdir()
    (package / "course_helper_mod.py").write_text("VALUE = 41\n")
    (tmp_path / "not_for_students.txt").write_text("secret")
    policy = replace(box.policy, visible=(*box.policy.visible, str(package)))
    code = ("import sys, os\n"
            f"sys.path.insert(0, {str(package)!r})\n"
            "import course_helper_mod\n"
            f"seen = os.path.exists({str(tmp_path / 'not_for_students.txt')!r})\n"
            "def add(a, b):\n    return a + b + course_helper_mod.VALUE - 41 + 1000 * seen\n")
    cells = [Cell(0, "code", code, None, "q", True)]
    report = box.run(cells, ["add"], TIMEOUTS, SLOT, policy)
    assert report.cell_errors == [] and report.probes["add"] == {"sum": 5}


def test_a_device_folder_is_bound_like_a_device_file(box):
    """The cuda profile binds the GPU's entries of /dev, and one of them is a folder
    (/dev/nvidia-caps): on the H200 the sandbox did not start until folders were bound as
    folders. A folder of this machine's /dev stands in for it; /dev/null for a device file."""
    folder = next((p for p in ("/dev/pts", "/dev/net", "/dev/cpu", "/dev/mqueue") if os.path.isdir(p)), None)
    if folder is None:
        pytest.skip("no folder under /dev here")
    policy = replace(box.policy, visible=(*box.policy.visible, folder, "/dev/null"))
    code = ("import os\n"
            f"seen = os.path.isdir({folder!r}) and os.path.exists('/dev/null')\n"
            "def add(a, b):\n    return a + b + 1000 * (not seen)\n")
    report = box.run([Cell(0, "code", code, None, "q", True)], ["add"], TIMEOUTS, SLOT, policy)
    assert report.grader_error is None and report.cell_errors == [], (report.grader_error, report.cell_errors)
    assert report.probes["add"] == {"sum": 5}


def test_the_cuda_profile_leaves_the_choice_of_gpu_to_the_grader(monkeypatch):
    """An empty CUDA_VISIBLE_DEVICES hides every GPU ("No CUDA GPUs are available", seen on the
    H200 when the grader's own environment did not set it): the cuda profile passes the
    grader's value on, or none; the cpu profile hides the GPUs."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert "CUDA_VISIBLE_DEVICES" not in grading.student_env("cuda")
    assert grading.student_env("cpu")["CUDA_VISIBLE_DEVICES"] == ""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert grading.student_env("cuda")["CUDA_VISIBLE_DEVICES"] == "1"
    assert grading.student_env("cpu")["CUDA_VISIBLE_DEVICES"] == ""


def test_a_device_folder_is_bound_read_only_and_its_devices_still_open(box):
    """A GPU's folder in /dev (/dev/nvidia-caps) is bound read-only like every other bind: the
    student's process (the grader's own uid in "user" mode) could otherwise create files in the
    host's folder. Its device files still open for writing (a read-only mount does not stop a
    device). A folder of /dev holding a copy of /dev/null stands in for it."""
    folder = f"/dev/sbx-caps-test-{os.getpid()}"
    try:
        os.mkdir(folder, 0o755)
        os.mknod(f"{folder}/null", 0o666 | 0o020000, os.makedev(1, 3))
        os.chmod(f"{folder}/null", 0o666)
    except OSError as exc:
        pytest.skip(f"cannot make a device folder in /dev here ({exc})")
    try:
        policy = replace(box.policy, visible=(*box.policy.visible, folder))
        code = ("import os\n"
                f"ro = bool(os.statvfs({folder!r}).f_flag & os.ST_RDONLY)\n"
                f"with open({folder!r} + '/null', 'w') as f:\n    f.write('x')\n"
                "try:\n"
                f"    open({folder!r} + '/planted', 'w').close()\n    planted = True\n"
                "except OSError:\n    planted = False\n"
                "def add(a, b):\n    return a + b + 1000 * (not ro) + 10000 * planted\n")
        report = box.run([Cell(0, "code", code, None, "q", True)], ["add"], TIMEOUTS, SLOT, policy)
        assert report.grader_error is None and report.cell_errors == [], (report.grader_error, report.cell_errors)
        assert report.probes["add"] == {"sum": 5}
        assert not os.path.exists(f"{folder}/planted")
    finally:
        for name in ("null", "planted"):
            try:
                os.unlink(f"{folder}/{name}")
            except FileNotFoundError:
                pass
        os.rmdir(folder)


def test_the_device_hint_reads_the_error_not_the_students_names():
    """The hint for a CPU/GPU mix-up answers the error's own words; a function of the student's
    whose name says cpu and cuda does not make every error in it a device error."""
    from autograder.probe import describe_exception

    namespace = {}
    exec(compile("def split_cpu_and_cuda_work(xs):\n    return sum(xs) / len(xs)\n"
                 "def mixed():\n    raise RuntimeError('Expected all tensors to be on the same device, "
                 "but found at least two devices, cuda:0 and cpu!')\n", "<cell 3>", "exec"), namespace)
    for name, hinted in (("split_cpu_and_cuda_work", False), ("mixed", True)):
        try:
            namespace[name]([]) if name.startswith("split") else namespace[name]()
        except Exception as exc:  # noqa: BLE001
            text = describe_exception(exc)
        assert ("hint: move models and tensors with .to(device)" in text) is hinted, text
        assert f"in {name})" in text


@pytest.mark.parametrize("error, hinted", [
    ("Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be the same", True),
    ("Found no NVIDIA driver on your system", True),
    ("Input type (torch.cuda.FloatTensor) and weight type (torch.cuda.HalfTensor) should be the same", False),
    ("expected scalar type Long but found torch.cuda.FloatTensor", False),
])
def test_the_device_hint_is_for_device_errors_only(error, hinted):
    """A dtype error on the GPU names CUDA tensor types too: it is not a device mix-up."""
    from autograder.probe import describe_exception

    assert ("hint: move models and tensors" in describe_exception(RuntimeError(error))) is hinted


def test_a_device_side_assert_gets_its_own_hint():
    """On a GPU an index out of range is a kernel's assert (seen on an H200 with labels shifted out of
    0..9), a message that does not say which index: the student reads what it usually means."""
    from autograder.probe import describe_exception

    text = describe_exception(RuntimeError("CUDA error: device-side assert triggered\nCUDA kernel errors "
                                           "might be asynchronously reported"))
    assert text.startswith("RuntimeError: CUDA error: device-side assert triggered; hint: an index out of range")
    assert "move models and tensors" not in text
    assert "hint" not in describe_exception(IndexError("Target 13 is out of bounds."))
