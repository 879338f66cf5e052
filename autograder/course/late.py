"""Late work: `course_config.LATE_POLICY`, applied through nbgrader's own late-submission
mechanism. `CoursePenalty` is an nbgrader `LateSubmissionPlugin` (nbgrader_config sets it as
`AssignLatePenalties.plugin_class`, so `nbgrader autograde` uses it too); `apply` does what
nbgrader's `AssignLatePenalties` preprocessor does, on our gradebook, whenever a grade is
recorded or read: the student's extension as nbgrader's per-submission `extension`, then the
plugin's penalty stored as the notebook's `late_submission_penalty`. The formgrader and
`nbgrader export` (score = raw score - penalty) then show what our table shows."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from nbgrader.plugins import LateSubmissionPlugin

import course_config as cfg

NOTE_PREFIXES = ("Late:", "Hand-in time")  # the notes `apply`/`read_timestamp` add to a result


class CoursePenalty(LateSubmissionPlugin):
    """The course's late policy as nbgrader's plugin: a share of the score per day late."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        percent = cfg.LATE_POLICY.penalty_percent(total_seconds_late)
        if not percent:
            return None
        return round(score * percent / 100, 4)


@dataclass
class Lateness:
    seconds_late: float = 0.0
    percent: float = 0.0
    penalty: float = 0.0  # points
    extension_days: float = 0.0
    timestamp: datetime.datetime | None = None  # naive UTC, as nbgrader stores it

    @property
    def late(self) -> bool:
        return self.seconds_late > 0

    def short(self) -> str:
        if not self.late:
            return ""
        return f"{duration(self.seconds_late)} -{self.percent:g}%" if self.percent else f"{duration(self.seconds_late)} (grace)"

    def note(self) -> str | None:
        if not self.late:
            return None
        ext = f" (with your {self.extension_days:g}-day extension)" if self.extension_days else ""
        p = cfg.LATE_POLICY
        if not self.percent:
            return (f"Late: submitted {duration(self.seconds_late)} after the deadline{ext}, within the "
                    f"{p.grace_minutes:g}-minute grace period: no penalty")
        return (f"Late: submitted {duration(self.seconds_late)} late{ext}: -{self.percent:g}% of your score "
                f"(-{self.penalty:g} points; {p.percent_per_day:g}% per day or part of a day, at most "
                f"{p.max_percent:g}%)")


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if mins:
        parts.append(f"{mins} min")
    return " ".join(parts) or f"{int(seconds)} s"


def _naive_utc(when: datetime.datetime) -> datetime.datetime:
    return when.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def apply(gb, assignment: cfg.Assignment, student: str) -> Lateness:
    """Within an open nbgrader Gradebook session: the assignment's due date and the student's
    extension as nbgrader stores them, then the plugin's penalty on the notebook's current score
    (auto + hand). The caller commits."""
    row = gb.find_assignment(assignment.id)
    due = _naive_utc(assignment.due_at)
    if row.duedate != due:
        row.duedate = due
    submission = gb.find_submission(assignment.id, student)
    days = cfg.LATE_POLICY.extension_days(assignment.id, student)
    extension = datetime.timedelta(days=days) if days else None
    if submission.extension != extension:
        submission.extension = extension
    notebook = gb.find_submission_notebook(assignment.notebook, assignment.id, student)
    gb.db.flush()
    gb.db.expire(notebook)  # its score is a SQL column property: read it again after the flush
    seconds = submission.total_seconds_late
    penalty = None
    if seconds > 0:
        penalty = CoursePenalty().late_submission_penalty(student, notebook.score, seconds)
        if penalty is not None:  # as nbgrader's AssignLatePenalties._check_late_penalty
            penalty = min(max(penalty, 0.0), notebook.score)
    if notebook.late_submission_penalty != penalty:
        notebook.late_submission_penalty = penalty
    return Lateness(seconds, cfg.LATE_POLICY.penalty_percent(seconds), penalty or 0.0, days,
                    submission.timestamp)


def replace_notes(notes: list[str], new: list[str | None]) -> list[str]:
    """`notes` without the lateness notes of an earlier recording, plus the new ones."""
    return [n for n in notes if not n.startswith(NOTE_PREFIXES)] + [n for n in new if n]
