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


def test_roster_import_through_nbgrader_and_bad_files_change_nothing(fresh_gradebook, tmp_path, capsys):
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


# ------------------------------------------------------------------ late work

HW1 = cfg.ASSIGNMENTS["hw1_backprop"]


def _result(student, source, failing=(), seconds=1.0, status="graded"):
    """A graded HW1 result as the grader returns it: every check passes but `failing`."""
    from autograder.results import CheckResult, QuestionResult, SubmissionResult
    questions = []
    for q in HW1.questions:
        if q.manual_points:
            questions.append(QuestionResult(q.id, q.title, 0.0, q.manual_points, manual=True))
        if q.checks:
            checks = [CheckResult(n, 0.0 if n in failing else p, p, n not in failing,
                                  "" if n not in failing else f"{n} gave the wrong value") for n, p in q.checks.items()]
            questions.append(QuestionResult(q.id, q.title, sum(c.points for c in checks), q.auto_points, checks=checks))
    return SubmissionResult(student, HW1.id, status, questions=questions, seconds=seconds, source=str(source))


def _handin(tmp_path, student, stamp):
    import shutil
    folder = tmp_path / "submitted" / student / HW1.id
    folder.mkdir(parents=True)
    shutil.copy(cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb", folder)
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp)
    return folder / f"{HW1.notebook}.ipynb"


def test_late_policy_through_nbgrader(fresh_gradebook, tmp_path, monkeypatch):
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin
    from nbgrader.preprocessors import AssignLatePenalties

    from autograder import feedback, gradebook
    from autograder.course import late
    from autograder.nbgrader_setup import nbgrader_config

    monkeypatch.setattr(cfg, "LATE_POLICY", cfg.LatePolicy(10, 50, 15, {HW1.id: {"late_ext": 2}}))
    stamps = {"late_1d3h": "2025-10-10 03:00:00 +08:00",  # due 10/08 23:59: 1 day 3 h 1 min late
              "late_ext": "2025-10-10 03:00:00 +08:00",  # the same, with a 2-day extension
              "in_grace": "2025-10-09 00:05:00 +08:00",
              "on_time": "2025-10-08 15:00:00",  # no zone: UTC, as nbgrader writes it (23:00 in Taipei)
              "no_stamp": None, "bad_stamp": "last Tuesday, around noon?"}
    results = {s: _result(s, _handin(tmp_path, s, stamp)) for s, stamp in stamps.items()}
    for r in results.values():
        gradebook.record(r)
    rows = {r["student"]: r for r in gradebook.rows(HW1.id)}
    full = HW1.auto_points
    assert rows["late_1d3h"]["late_penalty"] == round(full * 0.2, 2)
    assert rows["late_1d3h"]["total"] == round(full * 0.8, 2) and rows["late_1d3h"]["raw_total"] == full
    assert rows["late_1d3h"]["late"] == "1 day 3 h 1 min -20%" and rows["late_1d3h"]["submitted"] == "2025-10-10 03:00"
    for s in ("late_ext", "in_grace", "on_time", "no_stamp", "bad_stamp"):
        assert rows[s]["total"] == full and rows[s]["late_penalty"] == 0, s
    assert rows["in_grace"]["late"] == "6 min (grace)"
    text = feedback.render(results["late_1d3h"])
    assert "Late: submitted 1 day 3 h 1 min late: -20% of your score" in text
    assert "Hand-in time unknown: there is no timestamp.txt" in feedback.render(results["no_stamp"])
    assert "'last Tuesday, around noon?', not a date and time" in feedback.render(results["bad_stamp"])
    assert not [n for n in results["on_time"].notes if n.startswith(late.NOTE_PREFIXES)]
    gradebook.record(results["late_1d3h"])  # recorded again: the note is not repeated
    assert sum(n.startswith("Late:") for n in results["late_1d3h"].notes) == 1

    # nbgrader's own export shows the same penalty and score; a hand score moves both
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:
        gb.find_grade("derivation", HW1.notebook, HW1.id, "late_1d3h").manual_score = 5
        gb.db.commit()
    row = next(r for r in gradebook.rows(HW1.id) if r["student"] == "late_1d3h")
    assert row["late_penalty"] == round((full + 5) * 0.2, 2) and row["total"] == round((full + 5) * 0.8, 2)
    exported = tmp_path / "export.csv"
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:
        CsvExportPlugin(to=str(exported)).export(gb)
    import csv
    theirs = {r["student_id"]: r for r in csv.DictReader(exported.open()) if r["assignment"] == HW1.id}
    assert float(theirs["late_1d3h"]["late_submission_penalty"]) == pytest.approx(row["late_penalty"])
    assert float(theirs["late_1d3h"]["score"]) == pytest.approx(row["total"])
    assert float(theirs["late_ext"]["score"]) == pytest.approx(full)

    # `nbgrader autograde` would use the same plugin
    pre = AssignLatePenalties(config=nbgrader_config())
    pre.init_plugin()
    assert isinstance(pre.plugin_inst, late.CoursePenalty)
    assert pre.plugin_inst.late_submission_penalty("x", 30.0, 27 * 3600) == 6.0


# ------------------------------------------------------------------ regrades and their history

def test_regrade_one_question_leaves_everything_else(fresh_gradebook, tmp_path, capsys):
    from nbgrader.api import Gradebook

    from autograder import gradebook
    from autograder.course import history, regrade
    from autograder.results import load_stored

    nb = _handin(tmp_path, "rg", "2025-10-01 12:00:00 +08:00")
    # first grading: losses and grad_check both failed one check each
    gradebook.record(_result("rg", nb, failing=("test_loss_gradients", "test_numerical_gradient")))
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:  # the TA's hand grading
        gb.find_grade("derivation", HW1.notebook, HW1.id, "rg").manual_score = 3
        gb.find_comment("derivation", HW1.notebook, HW1.id, "rg").manual_comment = "missing the 1/N"
        gb.db.commit()
    before_rows = next(r for r in gradebook.rows(HW1.id) if r["student"] == "rg")
    assert before_rows["losses"] == 2 and before_rows["grad_check"] == 1

    # the regrade run passes everything: only `losses` may change
    calls = []

    def grade_one(a, student, notebook):
        calls.append((a.id, student, notebook))
        return _result(student, notebook)
    b, a, _ = regrade.regrade(HW1, "rg", "losses", nb, grade_one, reason="fixed test tolerance")
    assert (b, a) == (2, 5) and calls == [(HW1.id, "rg", nb)]
    after_rows = next(r for r in gradebook.rows(HW1.id) if r["student"] == "rg")
    changed = {k for k in before_rows if before_rows[k] != after_rows[k]}
    assert changed == {"losses", "auto", "total", "raw_total"}, changed
    assert after_rows["grad_check"] == 1 and after_rows["derivation"] == 3
    assert gradebook.manual_grades(HW1.id, "rg")["derivation"] == (3, "missing the 1/N")
    [stored] = [r for r in load_stored(cfg.RESULTS_DIR, HW1.id) if r.student == "rg"]
    gc = next(q for q in stored.questions if q.id == "grad_check")
    assert not next(c for c in gc.checks if c.name == "test_numerical_gradient").passed  # stored check untouched
    entries = history.read(HW1.id, "rg")  # the TA's hand grading above is logged too
    assert sorted((e["question"], e.get("field"), e["after"]) for e in entries if e["action"] == "hand") == [
        ("derivation", "comment", "missing the 1/N"), ("derivation", "score", 3)]
    [entry] = [e for e in entries if e["action"] != "hand"]
    assert (entry["question"], entry["before"], entry["after"], entry["action"]) == ("losses", 2, 5, "regrade")
    assert entry["reason"] == "fixed test tolerance" and entry["who"] and entry["time"]
    assert _cli("history", HW1.id, "--student", "rg") == 0
    assert "losses: 2 -> 5  (fixed test tolerance)" in capsys.readouterr().out

    # bad requests: a clear message, nothing stored changes
    db_before = cfg.GRADEBOOK_DB.read_bytes()
    log_before = history.log_path().read_bytes()
    for argv, says in [
        (["--student", "nobody", "--question", "losses"], "no recorded hw1_backprop grade for student 'nobody'"),
        (["--student", "rg", "--question", "nope"], "has no question 'nope'; its questions: value_ops"),
        (["--student", "rg", "--question", "derivation"], "graded by hand"),
        (["--question", "losses"], "--student and --question go together"),
    ]:
        assert _cli("grade", HW1.id, str(nb), *argv) == 2
        err = capsys.readouterr().err
        assert says in err, err
    assert cfg.GRADEBOOK_DB.read_bytes() == db_before and history.log_path().read_bytes() == log_before
    with pytest.raises(regrade.RegradeError, match="grader failed"):
        regrade.regrade(HW1, "rg", "losses", nb, lambda *a: _result("rg", nb, status="error"))


# ------------------------------------------------------------------ the instructor's report

def _class_of(tmp_path):
    """A few HW1 results recorded as grading stores them: varied failures, one crash, one
    suspicious, AI disclosures, one late."""
    from autograder import gradebook
    from autograder.results import CRASHED
    made = {
        "r_full": dict(),
        "r_losses": dict(failing=("test_loss_gradients",), seconds=3.5),
        "r_two": dict(failing=("test_loss_gradients", "test_training_reaches_accuracy"), seconds=7.0),
        "r_late": dict(failing=("test_sgd_step",), stamp="2025-10-10 03:00:00 +08:00"),
        "r_ai": dict(disclosures=["losses, cell 9 line 2: 以下幾行由gpt-5生成", "layers, cell 7 line 1: from ChatGPT"]),
        "r_sus": dict(suspicious=["printed the hidden test's expected value"]),
    }
    for student, kw in made.items():
        nb = _handin(tmp_path, student, kw.get("stamp", "2025-10-01 10:00:00 +08:00"))
        r = _result(student, nb, failing=kw.get("failing", ()), seconds=kw.get("seconds", 2.0))
        r.disclosures, r.suspicious = kw.get("disclosures", []), kw.get("suspicious", [])
        gradebook.record(r)
    crashed = _result("r_crash", _handin(tmp_path, "r_crash", "2025-10-01 10:00:00 +08:00"),
                      failing=tuple(HW1.check_points()))
    crashed.status, crashed.reason = CRASHED, "the notebook ran past 90 s while loading"
    gradebook.record(crashed)


def test_report_and_lms_export(fresh_gradebook, tmp_path, capsys):
    import csv

    from autograder.course import report
    _class_of(tmp_path)
    assert _cli("report", HW1.id) == 0
    out = capsys.readouterr().out
    assert "7 graded (1 crashed, 6 graded)" in out
    assert "test_loss_gradients: test_loss_gradients gave the wrong value" in out
    assert "  2x test_loss_gradients" in out  # the crash is not counted per check
    assert "r_crash: crashed: the notebook ran past 90 s while loading" in out
    assert "r_sus: suspicious: printed the hidden test's expected value" in out
    assert "r_late: 1 day 3 h 1 min -20%" in out
    losses = next(line for line in out.splitlines() if line.strip().startswith("losses "))
    assert "AI-use disclosures: 1 students" in losses
    png, page = cfg.GRADEBOOK_DIR / "reports" / f"{HW1.id}.png", cfg.GRADEBOOK_DIR / "reports" / f"{HW1.id}.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "data:image/png;base64," in page.read_text() and "r_crash" in page.read_text()
    s = report.summarize(HW1.id)
    assert s.pass_rates["losses"] == pytest.approx(4 / 7) and s.pass_rates["value_ops"] == pytest.approx(6 / 7)

    # the LMS export: a row per student, a column per assignment, the syllabus weights
    out = tmp_path / "lms.csv"
    assert _cli("lms", "--out", str(out)) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(out.open(encoding="utf-8-sig"))}
    full = HW1.auto_points + HW1.manual_points  # hand grading still pending: the derivation counts 0
    r = rows["r_full"]
    assert float(r[HW1.id]) == pytest.approx(round(100 * HW1.auto_points / full, 2))
    assert float(r["weighted_total"]) == pytest.approx(7.5 * HW1.auto_points / full, abs=0.01)
    assert float(r["weighted_out_of"]) == 7.5 and "hand grading pending" in r["notes"]
    assert r["final_project"] == "" and r["quizzes"] == "" and "hw2_cnn" in r
    late_row = rows["r_late"]
    assert float(late_row[HW1.id]) == pytest.approx(round(100 * 0.8 * (HW1.auto_points - 1) / full, 2))
    assert "late -" in late_row["notes"]


@pytest.mark.slow
def test_regrade_through_the_cli_with_real_grading(fresh_gradebook, tmp_path, capsys):
    """As the instructor runs it: grade a submission that fails `losses`, then regrade that one
    question from the right file; only `losses` changes, and the history says so."""
    import shutil

    from autograder import gradebook
    from autograder.course import history
    src = cfg.SAMPLES_DIR / "submitted"
    first = tmp_path / "first" / "stud" / HW1.id
    first.mkdir(parents=True)
    shutil.copy(src / "mistake_losses" / HW1.id / f"{HW1.notebook}.ipynb", first)
    assert _cli("grade", HW1.id, str(first.parent), "--workers", "1") == 0
    before = next(r for r in gradebook.rows(HW1.id) if r["student"] == "stud")
    assert before["losses"] == 0
    fixed = tmp_path / "fixed" / "stud" / HW1.id
    fixed.mkdir(parents=True)
    shutil.copy(src / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb", fixed)
    assert _cli("grade", HW1.id, str(fixed.parent), "--student", "stud", "--question", "losses") == 0
    assert "stud hw1_backprop losses: 0 -> 5 / 5" in capsys.readouterr().out
    after = next(r for r in gradebook.rows(HW1.id) if r["student"] == "stud")
    assert {k for k in before if before[k] != after[k]} == {"losses", "auto", "total", "raw_total"}
    assert [(e["question"], e["before"], e["after"]) for e in history.read(HW1.id, "stud")] == [("losses", 0, 5)]
