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
