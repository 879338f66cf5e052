"""The sandbox contains what a submission does: time, memory, output, exits, processes,
files, network, and lies told over the result pipe."""
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import course_config as cfg
from autograder import grading, sandbox
from autograder.notebook import Cell
from autograder.probe import Failed

PROBES = ["add", "slow", "snoop", "returns_impostor"]
TIMEOUTS = {"add": 10, "slow": 2, "snoop": 10, "returns_impostor": 10, "scribble": 10}
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="isolation by uid and namespaces needs root")
UID = sandbox.SLOT_UID_BASE + 15  # a slot no real grading run in this process uses


@pytest.fixture(scope="module", autouse=True)
def warm():
    grading.warm_up()


def run(*sources, names=PROBES, **policy_changes):
    cells = [Cell(i, "code", src, None, "q", True) for i, src in enumerate(sources)]
    policy = grading.policy()
    if policy_changes:
        policy = sandbox.Policy(**{**policy.__dict__, **policy_changes})
    uid = UID if os.geteuid() == 0 else None
    scratch = Path(tempfile.mkdtemp(prefix="sbx-test-"))
    if uid is not None:
        os.chown(scratch, uid, uid)
    report = sandbox.run(cells, "sandbox_probes", list(names), TIMEOUTS, policy, scratch, uid)
    return report


GOOD = "def add(a, b):\n    return a + b\n"


def message(report, name):
    value = report.probes[name]
    assert isinstance(value, Failed), f"{name} should have failed, got {value!r}"
    return value.message


def test_results_arrive_as_plain_data():
    report = run(GOOD, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert report.load_failure is None


def test_syntax_error_costs_only_its_cell():
    report = run(GOOD, "def broken(:\n    pass\n", names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert report.cell_errors[0][0] == "cell 2" and "SyntaxError" in report.cell_errors[0][2]


def test_missing_function_is_named():
    report = run("def plus(a, b):\n    return a + b\n", names=["add"])
    assert "`add` is not defined in your notebook" in message(report, "add")


def test_exceptions_point_at_the_students_cell_and_line():
    report = run("def add(a, b):\n    x = 1\n    return a + b + None\n", names=["add"])
    text = message(report, "add")
    assert text.startswith("TypeError") and "cell 1, line 3, in add" in text


def test_infinite_loop_in_a_check_costs_that_check_only():
    report = run(GOOD + "def slow():\n    while True:\n        pass\n", names=["add", "slow", "snoop"])
    assert "longer than 2 s" in message(report, "slow")
    assert report.probes["add"] == {"sum": 5} and not isinstance(report.probes["snoop"], Failed)


def test_loop_that_ignores_the_alarm_is_killed_and_the_rest_still_runs():
    loop = ("def slow():\n    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "    while True:\n        pass\n")
    started = time.monotonic()
    report = run(GOOD + loop, names=["slow", "add"])
    assert "the grader stopped it" in message(report, "slow")
    assert report.probes["add"] == {"sum": 5}
    assert time.monotonic() - started < 20


def test_a_cell_that_hangs_at_load_is_skipped_and_the_rest_runs():
    report = run("while True:\n    pass\n", GOOD, names=["add"], load_timeout_s=3)
    assert report.probes["add"] == {"sum": 5} and report.load_failure is None
    label, _, text = report.cell_errors[0]
    assert label == "cell 1" and "did not finish within 3 s" in text and "skipped it" in text


def test_a_notebook_that_keeps_dying_is_a_crash_with_a_reason():
    dies = "import os\nos._exit(0)\n"
    report = run(dies, dies, dies, dies, GOOD, names=["add"])
    assert report.load_failure.startswith("cell 4 ended the process (exit code 0")
    assert "not checked" in message(report, "add")


@pytest.mark.parametrize("exit_code", ["import sys; sys.exit(0)", "raise SystemExit(1)"])
def test_sys_exit_in_a_cell_is_an_error_of_that_cell(exit_code):
    report = run(GOOD, exit_code, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert "sys.exit" in report.cell_errors[0][2]


def test_os_exit_with_success_code_earns_nothing():
    report = run("import os\nos._exit(0)\n" + GOOD, names=["add"])
    assert "ended the process (exit code 0" in report.cell_errors[0][2]
    assert "`add` is not defined" in message(report, "add")


def test_os_exit_inside_a_check():
    report = run("def add(a, b):\n    import os\n    os._exit(0)\n", names=["add", "snoop"])
    assert "ended the process (exit code 0" in message(report, "add")
    assert not isinstance(report.probes["snoop"], Failed)


def test_memory_bomb_is_a_memory_error():
    report = run(GOOD, "import numpy as np\nx = np.ones(int(50e9) // 8)\n", names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert "MemoryError" in report.cell_errors[0][2]


@ROOT_ONLY
def test_memory_watchdog_kills_growth_past_the_cap():
    grow = "import numpy as np\nblocks = []\nfor _ in range(400):\n    blocks.append(np.ones(2**20))\n"
    report = run(GOOD, grow, names=["add"], memory_cap="watchdog", memory_mb=200)
    assert report.probes["add"] == {"sum": 5}
    assert "used more than 200 MB of memory" in report.cell_errors[0][2]


def test_printing_100_mb_is_discarded():
    started = time.monotonic()
    report = run(GOOD, "print('x' * 100_000_000)\nimport os\nos.write(1, b'y' * 10_000_000)\n", names=["add"])
    assert report.probes["add"] == {"sum": 5} and not report.cell_errors
    assert time.monotonic() - started < 20


def test_raising_at_import_keeps_the_other_cells():
    report = run("import no_such_module_anywhere\n", GOOD, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert "ModuleNotFoundError" in report.cell_errors[0][2]


def test_objects_that_pretend_to_be_numbers_are_flattened():
    impostor = ("import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                "def impostor():\n    return np.zeros(3).view(Liar)\n")
    report = run(impostor, names=["returns_impostor"])
    value = report.probes["returns_impostor"]["value"]
    assert type(value) is np.ndarray and not (value == np.ones(3)).any()


def test_forged_results_on_the_pipe_do_not_replace_real_ones():
    forge = ("import os, json, struct\n"
             "msg = json.dumps({'event': 'result', 'name': 'add', 'data': {'sum': 999}}).encode()\n"
             "for fd in range(3, 20):\n"
             "    try:\n        os.write(fd, struct.pack('>I', len(msg)) + msg)\n"
             "    except OSError:\n        pass\n")
    report = run(GOOD, forge, names=["add"])
    assert report.probes["add"] == {"sum": 5}


def test_garbage_on_the_pipe_is_a_clear_failure():
    garbage = ("import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'\\xff' * 64)\n"
               "    except OSError:\n        pass\n")
    report = run(GOOD, garbage, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert "could not read your process's results" in report.cell_errors[0][2]


@ROOT_ONLY
def test_course_files_are_hidden_readonly_and_offline():
    before = (cfg.ROOT / "course_config.py").read_bytes()
    report = run(GOOD, names=["snoop"])
    seen = report.probes["snoop"]
    assert seen["uid"] == UID
    assert "[]" in seen["listing"] and "probes.py" not in seen["listing"] and "HEAD" not in seen["listing"]
    assert isinstance(seen["write"], Failed) and isinstance(seen["net"], Failed)
    assert (cfg.ROOT / "course_config.py").read_bytes() == before
    assert not seen["cwd"].startswith(str(cfg.ROOT))


@ROOT_ONLY
def test_no_process_outlives_the_run():
    escape = ("import os, time\n"
              "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        while True:\n"
              "            time.sleep(0.1)\n    os._exit(0)\n")
    report = run(GOOD, escape, names=["add"])
    assert report.probes["add"] == {"sum": 5}
    assert sandbox.processes_of(UID) == []


def test_files_the_grader_has_open_are_out_of_reach(tmp_path):
    log = open(tmp_path / "grader.log", "w")  # e.g. the gradebook or a log file
    try:
        scribble = ("import os\nfor fd in range(3, 256):\n    try:\n        os.write(fd, b'scribble')\n"
                    "    except OSError:\n        pass\n")
        report = run(GOOD, scribble, names=["add"])
    finally:
        log.close()
    assert (tmp_path / "grader.log").read_text() == ""
    assert report.probes["add"] == {"sum": 5}


@ROOT_ONLY
def test_writes_outside_the_course_vanish_with_the_run():
    report = run(GOOD, names=["scribble"])
    assert report.probes["scribble"]["scratch_file"] is True
    for place in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not Path(place, "sandbox_test_scribble").exists()


def test_the_whole_standard_library_is_importable():
    """Python may live where the sandbox's uid cannot go (pyenv under a 0700 /root)."""
    probe_imports = ("import secrets, random, statistics, fractions, decimal, csv, sqlite3, uuid\n"
                     "def add(a, b):\n    return a + b\n")
    report = run(probe_imports, names=["add"])
    assert report.cell_errors == [] and report.probes["add"] == {"sum": 5}


@ROOT_ONLY
def test_a_course_checked_out_under_tmp_stays_reachable(tmp_path, monkeypatch):
    """CI clones the course under /tmp, which the sandbox replaces with a private tmpfs:
    what must stay reachable (the course, Python, sys.path) is bound back, nothing else."""
    package = tmp_path / "checkout"
    package.mkdir()
    (package / "course_helper_mod.py").write_text("VALUE = 41\n")
    (tmp_path / "not_for_students.txt").write_text("secret")
    os.chmod(tmp_path, 0o755)
    monkeypatch.syspath_prepend(str(package))
    probe = ("import course_helper_mod, os\n"
             f"seen = os.path.exists({str(tmp_path / 'not_for_students.txt')!r})\n"
             "def add(a, b):\n    return a + b + course_helper_mod.VALUE - 41 + 1000 * seen\n")
    report = run(probe, names=["add"])
    assert report.cell_errors == [] and report.probes["add"] == {"sum": 5}
