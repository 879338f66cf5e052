"""Storing one graded submission: the gradebook row (nbgrader), the stored result, the
autograded notebook and the student's feedback. The coordinator of a batch (`grade` in this
process, or the warm grader of `serve`) keeps one `Recorder` open and stores each result as it
arrives; a submission that cannot be stored never stops the batch."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading


def open_recorder(assignment_id: str):
    """An open gradebook.Recorder that knows the assignment. nbgrader and SQLAlchemy take a
    second to import (and a fresh gradebook has nbgrader learn the assignment's cells), so the
    local `grade` runs this in a thread while its graders start."""
    from autograder import gradebook
    recorder = gradebook.Recorder()
    try:
        recorder.ensure_assignment(assignment_id)
    except gradebook.NotRecorded as exc:
        print(f"warning: {exc}; grading goes on, each grade is tried again when it is recorded", file=sys.stderr)
    return recorder


@contextlib.contextmanager
def ctrl_c_after_storing():
    """Ctrl-C (SIGINT) during the block takes effect when it ends: a grade is stored whole (its
    gradebook row, result file, autograded notebook and feedback) or not at all. Only the main
    thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if pressed:
            raise KeyboardInterrupt


def store(recorder, result, by: str | None = None) -> str | None:
    """Record `result` and write its feedback. None when stored; else the one line that says
    what was not stored and why (a failure of ours before the gradebook write marks the result
    "error"; the grade stored before, if any, is then unchanged). `by`: who asked, for the history
    log (the warm grader passes its command's user). A Ctrl-C meanwhile takes effect once it is stored."""
    from autograder import feedback
    from autograder.gradebook import NotRecorded, PartlyRecorded
    try:
        with ctrl_c_after_storing():
            recorder.record(result, by=by)
            feedback.write(result, hand=recorder.manual_grades(result.assignment, result.student))
    except NotRecorded as exc:
        return f"{result.student}: NOT recorded, the stored grade is unchanged: {exc}"
    except PartlyRecorded as exc:
        return (f"{result.student}: the grade is in the gradebook, but writing its files failed ({exc}); "
                f"fix that and grade this student again")
    except Exception as exc:  # noqa: BLE001 - one submission must never stop the batch
        result.status, result.reason = "error", f"the grader could not record it: {type(exc).__name__}: {exc}"
        return f"{result.student}: NOT recorded ({type(exc).__name__}: {exc}); the stored grade is unchanged"
    return None
