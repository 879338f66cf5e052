"""Regrading one question for one student: the submission is graded again (the whole
notebook: the grader runs every probe), and only that question's result replaces the stored
one; every other autograded score, the hand scores and the comments stay as they were. The
change goes to the history log (autograder.course.history)."""
from __future__ import annotations

import json
from pathlib import Path

import course_config as cfg


class RegradeError(Exception):
    """Why a regrade cannot be done; nothing stored was changed."""


def check_request(assignment: cfg.Assignment, student: str, question: str):
    """(the stored SubmissionResult, the question) or RegradeError with what exists instead."""
    from autograder.results import SubmissionResult, stored_path

    known = [q.id for q in assignment.questions]
    if question not in known:
        raise RegradeError(f"{assignment.id} has no question {question!r}; its questions: {', '.join(known)}; "
                           f"nothing was changed")
    q = assignment.question(question)
    if not q.checks:
        raise RegradeError(f"{assignment.id}'s {question!r} is graded by hand (in nbgrader's formgrader), not by "
                           f"the autograder; nothing was changed")
    path = stored_path(cfg.RESULTS_DIR, assignment.id, student)
    if not path.is_file():
        graded = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        hint = f" ({len(graded)} students have one)" if graded else " (no student has one yet)"
        raise RegradeError(f"no recorded {assignment.id} grade for student {student!r}{hint}: grade the whole "
                           f"submission first (grade {assignment.id} PATH); nothing was changed")
    return SubmissionResult.from_dict(json.loads(path.read_text())), q


def merge(stored, fresh, question: str):
    """`stored` with `question`'s autograded result taken from `fresh`."""
    new_q = next(q for q in fresh.questions if q.id == question and not q.manual)
    stored.questions = [new_q if (q.id == question and not q.manual) else q for q in stored.questions]
    return stored


def regrade(assignment: cfg.Assignment, student: str, question: str, notebook: Path, grade_one,
            reason: str = ""):
    """Grade `notebook` again with `grade_one(assignment, student, notebook) -> SubmissionResult`
    and store only `question`'s new score. Returns (before, after, the merged result)."""
    from autograder import gradebook
    from autograder.recording import ctrl_c_after_storing

    stored, _ = check_request(assignment, student, question)
    fresh = grade_one(assignment, student, notebook)
    if fresh.status == "error":
        raise RegradeError(f"the grader failed: {fresh.reason}; nothing was changed")
    if fresh.status != "graded" and stored.status == "graded":
        raise RegradeError(f"this submission could not be run this time ({fresh.status}: {fresh.reason}), "
                           f"though it was before; nothing was changed")
    before = next(q.score for q in stored.questions if q.id == question and not q.manual)
    merged = merge(stored, fresh, question)
    with ctrl_c_after_storing():
        gradebook.record(merged, only_question=question, action="regrade", reason=reason)
    after = next(q.score for q in merged.questions if q.id == question and not q.manual)
    return before, after, merged
