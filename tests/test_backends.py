"""Grading backends: a real local Ray cluster (no mock) grades HW1 and midterm samples exactly
as the local pool does; a worker killed mid-submission costs a retry, never a lost or doubled
grade; a submission that kills its worker twice is recorded as crashed with the reason."""
import os
import signal
import threading
from dataclasses import asdict

import pytest

import course_config as cfg
from autograder import backends, grading
from autograder.results import CRASHED, GRADED

ray = pytest.importorskip("ray")

HW1 = cfg.ASSIGNMENTS["hw1_backprop"]
MIDTERM = cfg.ASSIGNMENTS["midterm"]
HW1_SAMPLES = ["ref_reference", "blank_release", "mistake_layers", "mistake_losses"]
MIDTERM_SAMPLES = ["wrong_ex3"]


def submissions(assignment, students):
    return [(s, cfg.SAMPLES_DIR / "submitted" / s / assignment.id / f"{assignment.notebook}.ipynb")
            for s in students]


def comparable(result) -> dict:
    """Everything a grade is made of; not the seconds it took."""
    data = asdict(result)
    data.pop("seconds")
    return data


def by_student(results) -> dict:
    results = list(results)
    students = [r.student for r in results]
    assert len(students) == len(set(students)), f"a submission was yielded twice: {students}"
    return {r.student: r for r in results}


@pytest.fixture(scope="module")
def local_results():
    return {a.id: by_student(grading.grade_many(a, submissions(a, students), workers=2, progress=False))
            for a, students in ((HW1, HW1_SAMPLES), (MIDTERM, MIDTERM_SAMPLES))}


@pytest.fixture(scope="module")
def cluster():
    from autograder.backends.ray import start_local_cluster

    start_local_cluster(num_cpus=2, object_store_memory=80 * 2**20, include_dashboard=False,
                        _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def test_backends_share_one_interface():
    assert backends.names()[:2] == ["local", "ray"]
    assert backends.get("local").__module__ == "autograder.backends.local"
    with pytest.raises(ValueError, match="unknown grading backend"):
        backends.get("slurm")


def _processes_in_group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            found.append(int(entry))
    return found


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_ctrl_c_stops_the_run_and_keeps_whole_grades(backend, tmp_path, _template_gradebook):
    """Ctrl-C in the terminal (SIGINT to the command's process group) in the middle of a batch:
    exit 130 with a line saying how many are recorded; each recorded grade is whole (its gradebook
    row and its result file, no half-written file); every process of the run ends."""
    import glob
    import shutil
    import sqlite3
    import subprocess
    import sys
    import time

    gradebook_dir = tmp_path / "gradebook"
    gradebook_dir.mkdir()
    shutil.copy(_template_gradebook, gradebook_dir / "gradebook.db")
    reference = cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb"
    for i in range(12):
        folder = tmp_path / "submitted" / f"s{i:02d}" / HW1.id
        folder.mkdir(parents=True)
        shutil.copy(reference, folder)
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(gradebook_dir)}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "autograder", "grade", HW1.id, str(tmp_path / "submitted"), "--workers", "1",
               "--backend", backend]
    # as from a terminal: a CI job may start us with SIGINT ignored, and a child would inherit that
    run = subprocess.Popen(command, cwd=cfg.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    results = gradebook_dir / "results" / HW1.id
    deadline = time.monotonic() + 180
    while not list(results.glob("*.json")) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=180)
    assert run.returncode == 130, err[-2000:]
    stored = sorted(p.stem for p in results.glob("*.json"))
    assert 1 <= len(stored) < 12, stored
    assert f"interrupted: grading stopped; {len(stored)} of these 12 students have a recorded grade" in err
    with sqlite3.connect(gradebook_dir / "gradebook.db") as db:
        rows = sorted(r[0] for r in db.execute("select student_id from submitted_assignment"))
    assert rows == stored
    assert not glob.glob(f"{gradebook_dir}/**/*.tmp", recursive=True)
    deadline = time.monotonic() + 30
    while _processes_in_group(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in_group(run.pid) == []


def test_ctrl_c_while_a_grade_is_stored_takes_effect_once_it_is_stored():
    from autograder.recording import ctrl_c_after_storing

    steps = []
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # CI may run us with SIGINT ignored
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_after_storing():
            steps.append("row")
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does, between two writes of one grade
            steps.append("files")
    assert steps == ["row", "files"]
    assert signal.signal(signal.SIGINT, before) is signal.default_int_handler  # put back as it was


def test_local_pool_grades_the_samples_as_specified(local_results):
    hw1 = local_results[HW1.id]
    assert sorted(hw1) == sorted(HW1_SAMPLES)
    assert hw1["ref_reference"].score == HW1.auto_points
    assert hw1["blank_release"].status == GRADED and hw1["blank_release"].score == 0
    assert 0 < hw1["mistake_layers"].score < HW1.auto_points
    assert 0 < hw1["mistake_losses"].score < HW1.auto_points


def test_ray_grades_like_local_even_when_a_worker_is_killed_mid_submission(cluster, local_results):
    """Two Ray workers grade four HW1 samples; the worker grading the first one is killed
    (SIGKILL) one second into it: that submission is graded again on a fresh worker, every
    submission comes back exactly once, and every result equals the local pool's."""
    from autograder.backends import ray as ray_backend

    starts, killed = [], []

    def on_start(student, pid):
        starts.append(student)
        if student == "ref_reference" and not killed:
            killed.append(pid)
            threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()

    results = by_student(ray_backend.run(HW1, submissions(HW1, HW1_SAMPLES), workers=2, on_start=on_start))
    assert killed and starts.count("ref_reference") == 2, starts  # killed once, graded again
    assert sorted(results) == sorted(HW1_SAMPLES)
    for student, expected in local_results[HW1.id].items():
        assert comparable(results[student]) == comparable(expected), student


def test_ray_grades_the_midterm_like_local(cluster, local_results):
    results = by_student(grading.grade_many(MIDTERM, submissions(MIDTERM, MIDTERM_SAMPLES), workers=1,
                                            progress=False, backend="ray"))
    assert sorted(results) == MIDTERM_SAMPLES
    for student, expected in local_results[MIDTERM.id].items():
        assert comparable(results[student]) == comparable(expected), student


def test_a_submission_that_kills_its_worker_twice_is_recorded_as_crashed(cluster):
    from autograder.backends import ray as ray_backend

    killed = []

    def on_start(student, pid):
        killed.append(pid)
        threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()

    [result] = ray_backend.run(HW1, submissions(HW1, ["blank_release"]), workers=1, on_start=on_start)
    assert len(killed) == 2 and killed[0] != killed[1]
    assert result.status == CRASHED and result.score == 0
    assert "grading worker died 2 times" in result.reason, result.reason
    assert all(not c.passed and "not checked" in c.message for q in result.questions for c in q.checks)
