"""Running the semester: the calendar, the roster, late work, regrades, the report, the LMS CSV."""
import datetime
import json
import zoneinfo

import pytest

import course_config as cfg

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


# ------------------------------------------------------------------ calendar (the seed syllabus)

def _week(n: int) -> datetime.date:
    """The syllabus: week 1 is the first lecture, Wednesday 2025/09/03; one lecture a week."""
    return datetime.date(2025, 9, 3) + datetime.timedelta(weeks=n - 1)


def test_midterm_week_matches_the_syllabus():
    assert _week(9) == datetime.date(2025, 10, 29)  # "第九週改時間 ... 10/29 16:10 - 19:00"


@pytest.mark.parametrize("assignment, deadline_week", [
    ("hw1_backprop", 6),  # HW1 out week 3; due the day HW2 is handed out (week 6)
    ("hw2_cnn", 10),  # due the day HW3 is handed out (week 10)
    ("hw3_attention", 13),  # due the day HW4 is handed out (week 13)
    ("hw4_quantization", 16),  # no later homework: the last week of the semester
])
def test_homework_due_the_day_the_next_is_handed_out(assignment, deadline_week):
    day = _week(deadline_week)
    assert cfg.ASSIGNMENTS[assignment].due_at == datetime.datetime(day.year, day.month, day.day, 23, 59,
                                                                   tzinfo=TAIPEI)


def test_midterm_due_when_the_lab_ends():
    assert cfg.ASSIGNMENTS["midterm"].due_at == datetime.datetime(2025, 10, 29, 19, 0, tzinfo=TAIPEI)


def test_grade_weights_are_the_syllabus():
    w = cfg.GRADE_WEIGHTS
    assert sum(w[a] for a in ("hw1_backprop", "hw2_cnn", "hw3_attention", "hw4_quantization")) == 30
    assert (w["midterm"], w["quizzes"], w["final_project"]) == (20, 10, 40)
    assert sum(w.values()) == 100


def test_late_policy_days_cap_and_grace():
    p = cfg.LatePolicy(percent_per_day=10, max_percent=50, grace_minutes=15)
    assert p.penalty_percent(0) == 0
    assert p.penalty_percent(14 * 60) == 0  # inside the grace period
    assert p.penalty_percent(16 * 60) == 10  # a part of a day counts as a day
    assert p.penalty_percent(27 * 3600) == 20  # 1 day 3 h: the second day started
    assert p.penalty_percent(30 * 86400) == 50  # the cap


# ------------------------------------------------------------------ roster

def _students_in_db():
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:
        return {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}


def _cli(*argv):
    from autograder.cli import main
    try:
        return main(list(argv))
    except SystemExit as exc:
        return exc.code


def test_roster_import_through_nbgrader_and_bad_files_change_nothing(tmp_path, capsys):
    from autograder.course import roster
    good = tmp_path / "roster.csv"
    good.write_text("Student ID,Name,Email\nB1100001,林英嘉,b1100001@cgu.edu.tw\nB1100002,Ada Lovelace,\n",
                    encoding="utf-8")
    assert _cli("roster", "import", str(good)) == 0
    db = _students_in_db()
    assert db["B1100001"][1:] == ("林英嘉", "b1100001@cgu.edu.tw")
    assert "B1100002" in db
    before, before_copy = _students_in_db(), roster.roster_path().read_bytes()
    bad = {
        "dup.csv": ("id,name,email\nB1,a,a@x\nB2,b,b@x\nB1,c,c@x\n".encode(), "B1 again (first on line 2)"),
        "cols.csv": ("id,email\nB3,c@x\n".encode(), "lacks a name column"),
        "big5.csv": ("id,name,email\nB4,林英嘉,d@x\n".encode("big5"), "not UTF-8"),
        "badid.csv": ("id,name,email\n../etc,x,y\n".encode(), "not a usable student id"),
    }
    for name, (data, says) in bad.items():
        (tmp_path / name).write_bytes(data)
        assert _cli("roster", "import", str(tmp_path / name)) == 2
        err = capsys.readouterr().err
        assert says in err and "nothing was imported" in err, err
    assert _students_in_db() == before and roster.roster_path().read_bytes() == before_copy
    assert roster.not_on_roster(["B1100001", "someone_else"]) == [
        line for line in roster.not_on_roster(["someone_else"])]
    assert "someone_else is not on the class roster" in roster.not_on_roster(["someone_else"])[0]
