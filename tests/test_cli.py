"""The CLI fails politely: one clear line and a non-zero exit where the instructor must act,
the batch going on where it can; due dates stored right; help, defaults and a version."""
import datetime
import sqlite3
import subprocess
import sys

import course_config as cfg
from autograder import cli, gradebook, grading

HW1 = cfg.HW1
SAMPLES = cfg.SAMPLES_DIR / "submitted"


def course(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          timeout=300, cwd=cfg.ROOT)


def test_bad_paths_and_options_get_one_line():
    done = course("grade", HW1.id, "/no/such/folder")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "grade: no such file or directory: /no/such/folder"
    done = course("grade", HW1.id, "README.md")
    assert done.returncode == 2 and "is not a notebook (.ipynb)" in done.stderr and "Traceback" not in done.stderr
    done = course("grade", HW1.id, "README.md", "--workers", "-3")
    assert done.returncode == 2 and "must be between 1 and 64" in done.stderr
    done = course("grade", "hw9", "x")
    assert done.returncode != 0 and "unknown assignment" in done.stderr


def test_help_shows_defaults_and_there_is_a_version():
    done = course("grade", "--help")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0 and "(default: 2)" in text and "--no-isolation" in text
    done = course("--version")
    assert done.returncode == 0 and cfg.COURSE_ID in done.stdout


def test_due_dates_read_back_through_nbgrader(tmp_path):
    from nbgrader.api import Gradebook

    db = tmp_path / "gradebook.db"
    gradebook.ensure_assignment(HW1.id, db_path=db)
    with Gradebook(f"sqlite:///{db}", cfg.COURSE_ID) as gb:
        due = gb.find_assignment(HW1.id).duedate
    # 23:59 in Taipei (UTC+8) is 15:59 UTC the same day; nbgrader stores UTC without a zone
    assert due == datetime.datetime.fromisoformat(HW1.due).replace(hour=15, minute=59)


def test_another_assignments_notebook_is_named_as_such():
    hw2_notebook = SAMPLES / "ref_reference" / "hw2_cnn" / "hw2_cnn.ipynb"
    result = next(grading.grade_many(HW1, [("mixup", hw2_notebook)], progress=False))
    assert result.score == 0
    assert any("none of hw1_backprop's graded cells" in note for note in result.notes)


def test_a_locked_gradebook_is_retried_then_named_and_the_batch_goes_on(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gradebook, "LOCK_RETRIES_S", (0.1,))
    submissions = []
    for sample, student in (("ref_reference", "locked_a"), ("blank_release", "locked_b")):  # never recorded before
        folder = tmp_path / student / HW1.id
        folder.mkdir(parents=True)
        (folder / f"{HW1.notebook}.ipynb").write_bytes((SAMPLES / sample / HW1.id / f"{HW1.notebook}.ipynb").read_bytes())
        submissions.append((student, folder / f"{HW1.notebook}.ipynb"))
    gradebook.ensure_assignment(HW1.id)
    holder = sqlite3.connect(cfg.GRADEBOOK_DB, timeout=0.1)
    holder.execute("BEGIN IMMEDIATE")  # another writer (a formgrader saving a score, say)
    try:
        results = cli.grade_and_record(HW1, submissions, workers=1, quiet=True)
    finally:
        holder.rollback()
        holder.close()
    assert len(results) == 2
    err = capsys.readouterr().err
    assert err.count("NOT recorded") == 2 and "is locked by another program" in err and "Traceback" not in err
