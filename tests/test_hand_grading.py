"""What nbgrader's own flow needs from our grading: the autograded notebook where the
formgrader looks for it, the submission's timestamp, hand scores and comments that land in our
table, CSV and feedback, and autograded scores that hand grading never changes."""
import datetime
import os
import shutil

from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI

import course_config as cfg
from autograder import cli, feedback, gradebook
from autograder.nbgrader_setup import nbgrader_config

HW1 = cfg.HW1
MANUAL = next(q for q in HW1.questions if q.manual_points)


def test_a_ta_grades_by_hand_and_the_student_sees_it(tmp_path):
    folder = tmp_path / "handin" / HW1.id
    folder.mkdir(parents=True)
    shutil.copy(cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb", folder)
    (folder / "timestamp.txt").write_text("2025-10-01 23:30:00.000000 +08:00")
    [result] = cli.grade_and_record(HW1, [("handin", folder / f"{HW1.notebook}.ipynb")], quiet=True)
    assert result.score == HW1.auto_points

    # nbgrader's formgrader finds the notebook (no "file missing") and the hand-in time
    api = NbGraderAPI(config=nbgrader_config())
    [notebook] = api.get_student_notebook_submissions("handin", HW1.id)
    assert notebook["id"] is not None and notebook["needs_manual_grade"]
    assert gradebook.autograded_path(HW1, "handin").exists()
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:
        assert gb.find_submission(HW1.id, "handin").timestamp == datetime.datetime(2025, 10, 1, 15, 30)
        # what the formgrader saves when the TA enters points and a comment
        grade = gb.find_grade(MANUAL.id, HW1.notebook, HW1.id, "handin")
        grade.manual_score = MANUAL.manual_points - 1
        comment = gb.find_comment(MANUAL.id, HW1.notebook, HW1.id, "handin")
        comment.manual_comment = "Good derivation; the last step drops the 1/N."
        gb.db.commit()

    text = feedback.write_all(HW1.id)
    mine = (cfg.FEEDBACK_DIR / "handin" / f"{HW1.id}.md").read_text()
    assert f"{MANUAL.manual_points - 1:g} / {MANUAL.manual_points:g} (graded by hand)" in mine
    assert "the last step drops the 1/N." in mine
    assert f"**Total: {HW1.auto_points + MANUAL.manual_points - 1:g} / {HW1.auto_points + HW1.manual_points:g}**" in mine
    row = next(r for r in gradebook.rows(HW1.id) if r["student"] == "handin")
    assert row[MANUAL.id] == MANUAL.manual_points - 1 and row["auto"] == HW1.auto_points
    assert text

    # a regrade keeps the hand score and the comment
    cli.grade_and_record(HW1, [("handin", folder / f"{HW1.notebook}.ipynb")], quiet=True)
    assert gradebook.manual_grades(HW1.id, "handin")[MANUAL.id] == (MANUAL.manual_points - 1,
                                                                    "Good derivation; the last step drops the 1/N.")
    os.remove(gradebook.autograded_path(HW1, "handin"))


def test_nbgrader_generate_feedback_works_on_our_gradebook():
    import subprocess
    import sys
    from pathlib import Path

    sample = cfg.SAMPLES_DIR / "submitted" / "blank_release" / HW1.id / f"{HW1.notebook}.ipynb"
    cli.grade_and_record(HW1, [("fb_student", sample)], quiet=True)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    done = subprocess.run([str(nbgrader), "generate_feedback", HW1.id, "--student", "fb_student"],
                          cwd=cfg.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (cfg.GRADEBOOK_DIR / "nbgrader_feedback" / "fb_student" / HW1.id / f"{HW1.notebook}.html").exists()


def test_the_autograded_notebook_is_the_handed_in_file_or_nothing(fresh_gradebook, tmp_path):
    """What the formgrader shows: a valid version-4 file exactly as handed in; an older format
    converted; anything nbformat cannot take (crafted or broken) removed, so the formgrader says
    "missing" instead of showing an earlier hand-in or failing to render."""
    import json

    import nbformat

    from autograder.results import GRADED, SubmissionResult

    good = (cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb").read_text()
    v4_with_lone_surrogate = json.loads(good)
    v4_with_lone_surrogate["cells"][0]["source"] = ["\\ud800"]
    v3 = json.dumps(nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(
        cells=[nbformat.v3.new_code_cell("x = 1")])]))
    files = {"good": good, "v3": v3, "a_list": "[]", "a_string": '"x"',
             "float_version": good.replace('"nbformat": 4,', '"nbformat": 4.0,'),
             "string_minor": good.replace('"nbformat_minor": 5', '"nbformat_minor": "4"'),
             "lone_surrogate": json.dumps(v4_with_lone_surrogate).replace("\\\\ud800", "\\ud800")}
    target = gradebook.autograded_path(HW1, "crafted")
    for name, text in files.items():
        path = tmp_path / f"{name}.ipynb"
        path.write_text(text)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("an earlier hand-in")
        gradebook.write_autograded_notebook(
            SubmissionResult(student="crafted", assignment=HW1.id, status=GRADED, source=str(path)), HW1)
        if name == "good":
            assert target.read_text() == good
        elif name == "v3":
            assert nbformat.reads(target.read_text(), as_version=4).cells[0].source == "x = 1"
        else:
            assert not target.exists(), f"{name}: the earlier hand-in was left for the formgrader"
    assert not list(target.parent.glob("*.tmp"))
