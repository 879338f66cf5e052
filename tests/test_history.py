"""The history of grade changes includes the hand grading: points, extra credit and comments
given in nbgrader's formgrader (or through nbgrader's API) are logged by the gradebook's own
triggers, with the time, the value before and after, next to our regrades."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import course_config as cfg

HW1 = cfg.HW1
MANUAL = next(q for q in HW1.questions if q.manual_points)


def _record(tmp_path, student):
    """Record an HW1 result for `student` as the grader would (every check passes)."""
    from autograder import gradebook
    from autograder.results import CheckResult, QuestionResult, SubmissionResult
    folder = tmp_path / "submitted" / student / HW1.id
    folder.mkdir(parents=True)
    nb = folder / f"{HW1.notebook}.ipynb"
    shutil.copy(cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW1.id / nb.name, nb)
    questions = []
    for q in HW1.questions:
        if q.manual_points:
            questions.append(QuestionResult(q.id, q.title, 0.0, q.manual_points, manual=True))
        else:
            checks = [CheckResult(n, p, p, True) for n, p in q.checks.items()]
            questions.append(QuestionResult(q.id, q.title, q.auto_points, q.auto_points, checks=checks))
    gradebook.record(SubmissionResult(student, HW1.id, "graded", questions=questions, seconds=1.0, source=str(nb)))


def _hand_grade(student, score=None, extra=None, comment=None):
    """What the formgrader's save does (nbgrader/server_extensions/formgrader/apihandlers.py)."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:
        grade = gb.find_grade(MANUAL.id, HW1.notebook, HW1.id, student)
        if score is not None:
            grade.manual_score, grade.extra_credit = score, extra
        if comment is not None:
            gb.find_comment(MANUAL.id, HW1.notebook, HW1.id, student).manual_comment = comment
        gb.db.commit()


def test_hand_grading_changes_are_in_the_history(fresh_gradebook, tmp_path, capsys):
    from autograder import cli
    from autograder.course import history

    _record(tmp_path, "ta_graded")
    _record(tmp_path, "other")
    _hand_grade("ta_graded", score=3, comment="the last step drops the 1/N")
    _hand_grade("ta_graded", score=3, comment="the last step drops the 1/N")  # saved again, unchanged
    _hand_grade("ta_graded", score=3.5, extra=0.5)
    _hand_grade("other", score=4)

    entries = history.read(HW1.id, "ta_graded")
    got = [(e["action"], e["who"], e["question"], e["field"], e["before"], e["after"]) for e in entries]
    assert got[:2] == [
        ("hand", "formgrader", MANUAL.id, "score", None, 3),
        ("hand", "formgrader", MANUAL.id, "comment", None, "the last step drops the 1/N"),
    ] and set(got[2:]) == {  # one save, two changes: in either order
        ("hand", "formgrader", MANUAL.id, "score", 3, 3.5),
        ("hand", "formgrader", MANUAL.id, "extra credit", None, 0.5),
    }, got
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", e["time"]) for e in entries)
    assert [e["student"] for e in history.read(HW1.id) if e["action"] == "hand"].count("other") == 1

    assert cli.main(["history", HW1.id, "--student", "ta_graded"]) == 0
    out = capsys.readouterr().out
    assert f"{HW1.id}  ta_graded  {MANUAL.id}: 3 -> 3.5" in out
    assert f'{MANUAL.id} comment: (none) -> "the last step drops the 1/N"' in out
    assert f"{MANUAL.id} extra credit: - -> 0.5" in out

    # our own regrade of the student neither logs a hand change nor touches the hand score
    _record(tmp_path / "again", "ta_graded")
    assert len(history.read(HW1.id, "ta_graded")) == 4


def test_a_gradebook_from_before_gets_its_watch_when_nbgrader_loads_the_course(fresh_gradebook, tmp_path):
    """A gradebook without the triggers (written before them; or after `unwatch_hand_grades` for
    an nbgrader upgrade) gets them as soon as nbgrader's own tools (the formgrader, `nbgrader
    db ...`) load the course's nbgrader_config.py."""
    from autograder.course import history

    _record(tmp_path, "s1")
    history.unwatch_hand_grades()
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    with sqlite3.connect(cfg.GRADEBOOK_DB) as con:
        assert con.execute(triggers).fetchall() == []
    nbgrader = Path(sys.executable).parent / "nbgrader"
    done = subprocess.run([str(nbgrader), "db", "student", "list"], cwd=cfg.ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COURSE_GRADEBOOK_DIR": str(fresh_gradebook)})
    assert done.returncode == 0 and "s1" in done.stdout, done.stderr[-2000:]
    with sqlite3.connect(cfg.GRADEBOOK_DB) as con:
        assert {n for (n,) in con.execute(triggers)} == {"autograder_hand_score", "autograder_hand_extra_credit",
                                                          "autograder_hand_comment"}
    _hand_grade("s1", score=2)
    assert [(e["before"], e["after"]) for e in history.read(HW1.id, "s1")] == [(None, 2)]


def test_the_watch_never_gets_in_the_way(tmp_path, fresh_gradebook):
    from autograder.course import history

    assert history.watch_hand_grades(tmp_path / "none.db") is False  # no gradebook: none is created
    assert not (tmp_path / "none.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    assert history.watch_hand_grades(other) is False  # not an nbgrader gradebook: left alone
    assert history.read(db_path=other) == []

    _record(tmp_path, "s2")
    history.unwatch_hand_grades()
    locker = sqlite3.connect(cfg.GRADEBOOK_DB, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another program writes the gradebook
    try:
        assert history.watch_hand_grades() is False  # after a second, no error
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert history.watch_hand_grades() is True
