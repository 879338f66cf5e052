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
