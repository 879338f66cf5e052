"""Attacks by a student who has read all of our code (issue 8; samples/attacks/). Every one
earns nothing (tests/test_hw1_grading.py and test_midterm.py hold them to `loses`); here: what
`loses` cannot say. Nothing is left behind, later students are graded as usual, the feedback
shows nothing forged, the instructor sees the suspicious ones, and a normal user's grading run
gets the same guarantees."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import course_config as cfg
from autograder import cli, feedback, grading
from autograder.results import ERROR, GRADED, INVALID

HW1 = cfg.HW1
SAMPLES = cfg.SAMPLES_DIR / "submitted"
# The order matters: the attacks come first, then two ordinary students graded after them.
ATTACKS = ["attack_kill_the_grader", "attack_plant_conftest", "attack_leave_files_and_ipc",
           "attack_forge_frames", "attack_stretch_the_clock", "attack_surrogate_exception",
           "attack_fake_feedback", "attack_read_other_submissions", "attack_torch_autograd"]
AFTER = ["ref_reference", "blank_release"]
LEFTOVERS = [Path("/run/lock/attack_leftover"), Path("/dev/shm/attack_leftover"), Path("/var/tmp/attack_leftover"),
             Path("/tmp/attack_leftover"), cfg.ROOT / "autograder" / "tests" / "hw1_backprop" / "conftest.py",
             cfg.ROOT / "autograder" / "tests" / "conftest.py"]
DOWNLOADED = cfg.ROOT / "downloaded" / "victim" / HW1.id  # where nbgrader zip_collect puts submissions


def _shm_keys() -> set:
    with open("/proc/sysvipc/shm") as f:
        return {line.split()[0] for line in f.readlines()[1:]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The attacks and two ordinary students, graded in one batch by 1 worker, recorded."""
    DOWNLOADED.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb", DOWNLOADED / f"{HW1.notebook}.ipynb")
    try:
        submissions = [(s, SAMPLES / s / HW1.id / f"{HW1.notebook}.ipynb") for s in ATTACKS + AFTER]
        out = tmp_path_factory.mktemp("attacks") / "results.json"
        results = cli.grade_and_record(HW1, submissions, workers=1, json_path=out, quiet=True)
    finally:
        shutil.rmtree(cfg.ROOT / "downloaded")
    return {r.student: r for r in results}, json.loads(out.read_text())


def test_every_attack_is_graded_and_the_batch_goes_on(graded):
    results, summary = graded
    assert {r["student"] for r in summary} == set(ATTACKS + AFTER)
    assert all(r.status != ERROR for r in results.values())
    assert results["ref_reference"].score == HW1.auto_points
    assert results["blank_release"].score == 0


def test_nothing_is_left_behind(graded):
    assert [p for p in LEFTOVERS if p.exists()] == []
    assert str(0x5EED) not in _shm_keys()  # the segment attack_leave_files_and_ipc made


def test_frames_nobody_asked_for_are_flagged_for_the_instructor(graded):
    results, summary = graded
    for student in ("attack_forge_frames", "attack_stretch_the_clock"):
        assert results[student].suspicious, student
        assert "interfered with the grader's channel" in results[student].reason
        assert results[student].seconds < 30
    assert not results["ref_reference"].suspicious
    rows = {r["student"]: r for r in grading_rows()}
    assert rows["attack_forge_frames"]["suspicious"] and not rows["ref_reference"]["suspicious"]


def grading_rows():
    from autograder import gradebook
    return gradebook.rows(HW1.id)


def test_feedback_shows_nothing_forged(graded):
    results, _ = graded
    for student in ("attack_fake_feedback", "attack_surrogate_exception"):
        text = (cfg.FEEDBACK_DIR / student / f"{HW1.id}.md").read_text(encoding="utf-8")
        score_lines = [line for line in text.splitlines() if "Autograded score" in line]
        assert score_lines[0].startswith("**Autograded score: 0 / 34**")
        assert all(not line.lstrip().startswith(("**", "#", "<")) for line in score_lines[1:])
        assert "<script>" not in text and len(text) < feedback.MAX_REPORT + 200
        assert "\udc80" not in text


def test_hw1_forbids_torch_and_says_so(graded):
    results, _ = graded
    result = results["attack_torch_autograd"]
    losses = next(q for q in result.questions if q.id == "losses")
    assert losses.score == 0
    assert any("torch is not allowed" in c.message for c in losses.checks)


def test_a_submission_that_links_to_the_solution_is_not_read(tmp_path):
    source = cfg.ROOT / "source" / HW1.id / f"{HW1.notebook}.ipynb"
    (tmp_path / "linker" / HW1.id).mkdir(parents=True)
    (tmp_path / "linker" / HW1.id / f"{HW1.notebook}.ipynb").symlink_to(source)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / HW1.id).symlink_to(source.parent)
    submissions = [("linker", tmp_path / "linker" / HW1.id / f"{HW1.notebook}.ipynb"),
                   ("folder", tmp_path / "folder" / HW1.id / f"{HW1.notebook}.ipynb")]
    results = list(grading.grade_many(HW1, submissions, progress=False))
    assert [r.status for r in results] == [INVALID, INVALID]
    assert all("link" in r.reason and r.score == 0 for r in results)


NORMAL_USER = 65534


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"),
                    reason="needs root to become a normal user (setpriv) for the test")
def test_a_normal_user_gets_the_same_guarantees():
    """The CLI as an instructor without root runs it: student code in an unprivileged user
    namespace. (Python here lives under a 0700 /root: the test opens just that for the user.)"""
    tmp_path = Path(tempfile.mkdtemp(prefix="normal-user-"))  # not under pytest's 0700 folder
    gradebook_dir = tmp_path / "gradebook"
    gradebook_dir.mkdir()
    # Created here: nbgrader runs the venv's `alembic` script to create one, whose first line
    # names the checkout's own path, which the test's normal user cannot reach in a 0700 clone.
    from autograder import gradebook
    gradebook.ensure_assignment(HW1.id, db_path=gradebook_dir / "gradebook.db")
    for path in (tmp_path, gradebook_dir, gradebook_dir / "gradebook.db"):
        os.chmod(path, 0o777)
    students = ["attack_kill_the_grader", "attack_plant_conftest", "attack_read_other_submissions",
                "attack_scan_memory", "ref_reference"]
    # The checkout is seen at /mnt/course (its own folder may sit under a 0700 one, as CI's clone does)
    course = Path("/mnt/course")
    paths = " ".join(str(course / SAMPLES.relative_to(cfg.ROOT) / s) for s in students)
    out = tmp_path / "out.json"
    python = course / Path(sys.executable).relative_to(cfg.ROOT) if cfg.ROOT in Path(sys.executable).parents \
        else Path(sys.executable)
    script = (
        "set -e; mount --make-rprivate /; "
        f"mount -t tmpfs -o mode=755 tmpfs /mnt && mkdir {course} && mount --bind {cfg.ROOT} {course}; "
        "if [ -d /root/.pyenv ]; then mkdir -p /run/keep-pyenv && mount --bind /root/.pyenv /run/keep-pyenv && "
        "mount -t tmpfs -o mode=755 tmpfs /root && mkdir /root/.pyenv && mount --bind /run/keep-pyenv /root/.pyenv; fi; "
        f"cd {course} && COURSE_GRADEBOOK_DIR={gradebook_dir} PYTHONPATH={course} setpriv --reuid={NORMAL_USER} "
        f"--regid={NORMAL_USER} --clear-groups env HOME={tmp_path} {python} -m autograder grade {HW1.id} {paths} "
        f"--workers 2 --json {out}")
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=600)
        summary = json.loads(out.read_text()) if out.exists() else []
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    scores = {r["student"]: r["score"] for r in summary}
    assert scores == {s: (HW1.auto_points if s == "ref_reference" else 0) for s in students}
    assert [p for p in LEFTOVERS if p.exists()] == []
    assert "warning" not in done.stderr.lower()
    assert all(r["status"] == GRADED for r in summary)
