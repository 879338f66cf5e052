"""Recording grades: nbgrader's gradebook.db (one grade per question cell, through nbgrader's
Gradebook API, so the formgrader and `nbgrader export` keep working) plus, per submission,
the full result as JSON beside it (statuses, check messages, disclosures) for feedback and
exports. The caller records one submission at a time, as its result arrives, so an
interrupted run keeps everything recorded before it."""
from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path

import course_config as cfg
from autograder.nbgrader_setup import ensure_tools_on_path
from autograder.results import ERROR, SubmissionResult, load_stored, stored_path, write_json_atomic


class NotRecorded(Exception):
    pass


class PartlyRecorded(Exception):
    """The grade is in the gradebook, but a file written after it (the stored result, the
    autograded notebook) or the history line failed."""


def _db_url(db_path: Path | None) -> str:
    return f"sqlite:///{db_path or cfg.GRADEBOOK_DB}"


def ensure_assignment(assignment_id: str, db_path: Path | None = None) -> None:
    """Make sure the gradebook knows the assignment's notebook and grade cells (nbgrader
    learns them while generating the release); generate into a scratch folder if not."""
    _retrying(_ensure_assignment, assignment_id, db_path)


def _ensure_assignment(assignment_id: str, db_path: Path | None = None) -> None:
    import tempfile

    from nbgrader.api import Gradebook, MissingEntry

    ensure_tools_on_path()
    Path(db_path or cfg.GRADEBOOK_DB).parent.mkdir(parents=True, exist_ok=True)
    with Gradebook(_db_url(db_path), cfg.COURSE_ID) as gb:
        try:
            if gb.find_assignment(assignment_id).notebooks:
                return
        except MissingEntry:
            pass
    from autograder.release import generate
    with tempfile.TemporaryDirectory() as scratch:
        generate(assignment_id, release_root=Path(scratch), db_path=db_path)


LOCK_RETRIES_S = (0.2, 0.5, 1, 2, 4, 8)  # waits while another program holds the gradebook


def _retrying(fn, *args):
    """fn(*args), retried for about 15 s while another writer holds the gradebook; then
    NotRecorded naming the lock (or whatever else stopped the write)."""
    import time

    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import OperationalError

    for wait in (*LOCK_RETRIES_S, None):
        try:
            return fn(*args)
        except (OperationalError, InvalidEntry) as exc:  # nbgrader wraps some in InvalidEntry
            if "locked" not in str(exc):
                raise NotRecorded(f"the gradebook could not be written ({getattr(exc, 'orig', exc)})") from None
            if wait is None:
                raise NotRecorded(f"the gradebook {cfg.GRADEBOOK_DB} is locked by another program "
                                  f"(a formgrader, another grading run?): close it and grade this student again") from None
            time.sleep(wait)


def record(result: SubmissionResult, db_path: Path | None = None, results_dir: Path | None = None,
           only_question: str | None = None, action: str = "grade", reason: str = "") -> None:
    """Store one result (see `Recorder.record`); a batch keeps one `Recorder` open instead."""
    with Recorder(db_path, results_dir) as recorder:
        recorder.record(result, only_question, action, reason)


class Recorder:
    """The gradebook held open for a batch: one nbgrader `Gradebook` (one SQLAlchemy engine,
    whose compiled-statement cache then serves every submission; a fresh one per submission
    cost about 0.1 s each). Used from one thread at a time."""

    def __init__(self, db_path: Path | None = None, results_dir: Path | None = None):
        from nbgrader.api import Gradebook

        ensure_tools_on_path()
        self.db_path, self.results_dir = db_path, results_dir
        Path(db_path or cfg.GRADEBOOK_DB).parent.mkdir(parents=True, exist_ok=True)
        self.gb = _retrying(Gradebook, _db_url(db_path), cfg.COURSE_ID)
        self._known: set[str] = set()

    def close(self) -> None:
        self.gb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _retrying(self, fn, *args):
        def attempt():
            try:
                return fn(*args)
            except Exception:
                self.gb.db.rollback()  # a half-done write is never committed; the retry starts clean
                raise
        return _retrying(attempt)

    def ensure_assignment(self, assignment_id: str) -> None:
        """Once per batch: the gradebook knows the assignment, and its hand-grading watch
        (autograder.course.history) is in place, in this gradebook."""
        if assignment_id not in self._known:
            from autograder.course import history

            ensure_assignment(assignment_id, self.db_path)
            history.watch_hand_grades(self.db_path)
            self._known.add(assignment_id)

    def record(self, result: SubmissionResult, only_question: str | None = None, action: str = "grade",
               reason: str = "", by: str | None = None) -> None:
        """Store `result` for its student. A grader failure (status "error") is never stored: the
        grade already in the gradebook, if any, stays as it was. A gradebook locked by another
        writer is retried for about 15 s, then named (NotRecorded). `only_question`: write only
        that question's autograded score (a regrade; the caller merged the stored result). A
        changed score is logged (autograder.course.history) with `action`, `reason` and who asked
        (`by`: the user of the command a warm grader serves; else this process's user)."""
        if result.status == ERROR:
            raise NotRecorded(result.reason)
        self.ensure_assignment(result.assignment)
        self._retrying(self._record, result, only_question, action, reason, by)

    def _record(self, result: SubmissionResult, only_question: str | None, action: str, reason: str,
                by: str | None = None) -> None:
        from nbgrader.api import MissingEntry

        from autograder.course import history, late

        assignment = cfg.ASSIGNMENTS[result.assignment]
        gb = self.gb
        timestamp, stamp_note = read_timestamp(Path(result.source)) if result.source else (None, None)
        gb.update_or_create_student(result.student)
        try:
            submission = gb.find_submission(assignment.id, result.student)
            submission.timestamp = timestamp or submission.timestamp
        except MissingEntry:
            with warnings.catch_warnings():  # nbgrader's own autoflush chatter, harmless
                warnings.simplefilter("ignore")
                gb.add_submission(assignment.id, result.student, timestamp=timestamp)
        changes = []
        grades = grades_of(gb, assignment, result.student)
        for question in result.questions:
            if question.manual:
                continue  # the TA's manual score stays untouched
            if only_question is not None and question.id != only_question:
                continue  # a regrade of one question leaves the others as they were
            if question.id not in grades:
                raise MissingEntry(f"no grade cell {question.id!r} in {assignment.id}'s gradebook entry")
            grade = grades[question.id]
            if grade.auto_score is not None and (grade.auto_score != question.score or action == "regrade"):
                changes.append({"action": action, "assignment": assignment.id, "student": result.student,
                                "question": question.id, "before": grade.auto_score, "after": question.score,
                                **({"reason": reason} if reason else {})})
            grade.auto_score = question.score
        lateness = late.apply(gb, assignment, result.student)  # nbgrader's late-penalty plugin
        gb.db.commit()
        if stamp_note and lateness.timestamp is not None:  # graded again without one: the earlier time stays
            stamp_note = ("Hand-in time: no readable timestamp.txt this time; the time recorded when this "
                          "submission was first graded was kept")
        result.notes = late.replace_notes(result.notes, [stamp_note, lateness.note()])
        try:
            history.append(changes, by)
            write_json_atomic(stored_path(self.results_dir or cfg.RESULTS_DIR, assignment.id, result.student),
                              result.to_dict())
            write_autograded_notebook(result, assignment)
        except Exception as exc:  # noqa: BLE001 - the grade itself is stored: say so, precisely
            raise PartlyRecorded(f"{type(exc).__name__}: {exc}") from None

    def manual_grades(self, assignment_id: str, student: str) -> dict:
        """question id -> (points given by hand or None while pending, the grader's comment) for
        the hand-graded questions of one student, as the formgrader stored them."""
        from nbgrader.api import MissingEntry

        assignment = cfg.ASSIGNMENTS[assignment_id]
        found = {}
        for q in assignment.questions:
            if not q.manual_points:
                continue
            try:
                grade = self.gb.find_grade(q.id, assignment.notebook, assignment_id, student)
            except MissingEntry:
                continue
            try:
                comment = self.gb.find_comment(q.id, assignment.notebook, assignment_id, student).comment or ""
            except MissingEntry:
                comment = ""
            found[q.id] = (grade.manual_score, comment)
        self.gb.db.commit()  # ends the read transaction: no lock held between submissions
        return found


def grades_of(gb, assignment: cfg.Assignment, student: str) -> dict:
    """cell name -> nbgrader Grade of `student`'s submission of `assignment`: what nbgrader's
    `find_grade` finds for one cell, for all of them in one query (one per cell took a third of
    the time it takes to record a submission)."""
    from nbgrader.api import Assignment, BaseCell, Grade, Notebook, SubmittedAssignment, SubmittedNotebook

    rows = (gb.db.query(Grade, BaseCell.name)
            .join(BaseCell, BaseCell.id == Grade.cell_id)
            .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .filter(Notebook.name == assignment.notebook, Assignment.name == assignment.id,
                    SubmittedAssignment.student_id == student)
            .all())
    return {name: grade for grade, name in rows}


def submission_timestamp(notebook: Path):
    """When the student handed in, from nbgrader's `timestamp.txt` beside the notebook (what
    `nbgrader collect`/`zip_collect` write), as a naive UTC datetime (nbgrader's way), or None."""
    return read_timestamp(notebook)[0]


def read_timestamp(notebook: Path):
    """(naive UTC datetime or None, a note for the feedback or None). Without a readable
    `timestamp.txt` the hand-in time is unknown: nothing is stored as the time (nbgrader then
    counts the submission as on time) and the note says so; no late penalty is applied."""
    import datetime

    from dateutil import parser

    stamp = notebook.parent / "timestamp.txt"
    if not stamp.is_file() or stamp.is_symlink():
        return None, ("Hand-in time unknown: there is no timestamp.txt beside the notebook (nbgrader's "
                      "collect writes one), so no late penalty was applied")
    text = stamp.read_text(errors="replace").strip()[:100]
    try:
        # dateutil itself: nbgrader's parse_utc reads " +0800" as +800 seconds
        when = parser.parse(text)
    except (ValueError, OverflowError, TypeError):
        return None, (f"Hand-in time unknown: timestamp.txt holds {text[:40]!r}, not a date and time, so no "
                      f"late penalty was applied")
    if when.tzinfo is None:  # no zone: UTC, as nbgrader writes them
        return when, None
    return when.astimezone(datetime.timezone.utc).replace(tzinfo=None), None


def autograded_path(assignment: cfg.Assignment, student: str) -> Path:
    """Where nbgrader's formgrader looks for the graded notebook of `student`."""
    return cfg.GRADEBOOK_DIR / "autograded" / student / assignment.id / f"{assignment.notebook}.ipynb"


def write_autograded_notebook(result: SubmissionResult, assignment: cfg.Assignment) -> None:
    """The submitted notebook, where nbgrader's own flow expects it (formgrader's manual
    grading, `nbgrader generate_feedback`): read as the grader read it, never its outputs run."""
    import nbformat

    from autograder.notebook import read_submitted_file
    path = autograded_path(assignment, result.student)
    try:  # validated once (nbformat's reads and write would each validate it again)
        text = read_submitted_file(Path(result.source)).decode("utf-8")
        nb = nbformat.reader.reads(text)
        version = nbformat.reader.get_version(nb)[0]
        nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
        json.dumps(nb, ensure_ascii=False).encode("utf-8")  # a lone surrogate breaks nbconvert's HTML later
        if version != 4:  # an older format, converted: written as nbformat.write writes it
            text = nbformat.v4.writes(nb)
            text = text if text.endswith("\n") else text + "\n"
    except Exception:  # noqa: BLE001 - whatever a crafted file makes nbformat raise (a list, a float version)
        # an invalid file: the formgrader shows it as missing (not an earlier hand-in), our table says why
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".ipynb.tmp")
    tmp.write_text(text, encoding="utf-8")  # a valid version-4 file as it was handed in
    tmp.replace(path)


def manual_grades(assignment_id: str, student: str, db_path: Path | None = None) -> dict:
    """See `Recorder.manual_grades`."""
    with Recorder(db_path) as recorder:
        return recorder.manual_grades(assignment_id, student)


def rows(assignment_id: str, db_path: Path | None = None, results_dir: Path | None = None) -> list[dict]:
    """One row per graded student: scores from the gradebook, status and disclosures from
    the stored results. The late penalty is brought up to date first (it is a share of the
    score, hand points included), so `total` is what `nbgrader export` calls the score."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.course import late

    assignment = cfg.ASSIGNMENTS[assignment_id]
    stored = {r.student: r for r in load_stored(results_dir or cfg.RESULTS_DIR, assignment_id)}
    table = []
    ensure_tools_on_path()
    with Gradebook(_db_url(db_path), cfg.COURSE_ID) as gb:
        for student in sorted(stored):
            try:
                submission = gb.find_submission(assignment_id, student)
            except MissingEntry:
                continue
            lateness = late.apply(gb, assignment, student)
            try:  # stored, so the formgrader and `nbgrader export` agree
                gb.db.commit()
            except Exception:  # noqa: BLE001 - a locked gradebook: the table is right all the same
                gb.db.rollback()
            submission = gb.find_submission(assignment_id, student)
            notebook = next(n for n in submission.notebooks if n.name == assignment.notebook)
            grades = {g.name: g for g in notebook.grades}
            row = {"student": student, "assignment": assignment_id}
            auto, manual_pending = 0.0, 0
            for q in assignment.questions:
                g = grades[q.id]
                if q.manual_points:
                    row[q.id] = "" if g.manual_score is None else g.manual_score
                    manual_pending += g.manual_score is None
                else:
                    row[q.id] = g.score
                    auto += g.score
            row.update(auto=round(auto, 2), auto_max=assignment.auto_points,
                       total=round(max(0.0, submission.score - lateness.penalty), 2),
                       max=assignment.auto_points + assignment.manual_points,
                       manual="pending" if manual_pending else "done",
                       status=stored[student].status,
                       reason=stored[student].reason,
                       ai_disclosures=len(stored[student].disclosures),
                       suspicious="; ".join(stored[student].suspicious),
                       submitted=_local(lateness.timestamp), late=lateness.short(),
                       late_penalty=round(lateness.penalty, 2), raw_total=round(submission.score, 2))
            table.append(row)
    return table


def _local(when) -> str:
    """A naive UTC time from nbgrader as the course's local time ("" when unknown)."""
    import datetime
    import zoneinfo

    if when is None:
        return ""
    return when.replace(tzinfo=datetime.timezone.utc).astimezone(zoneinfo.ZoneInfo(cfg.TIME_ZONE)).strftime(
        "%Y-%m-%d %H:%M")


def to_csv(table: list[dict]) -> str:
    if not table:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue()


def to_text(assignment_id: str, table: list[dict]) -> str:
    """The gradebook as a terminal table."""
    assignment = cfg.ASSIGNMENTS[assignment_id]
    qids = [q.id for q in assignment.questions]
    heads = ["student", *qids, "auto", "manual", "status", "AI", "late"]
    lines = [[r["student"], *(_fmt(r[q]) for q in qids), f"{_fmt(r['auto'])}/{_fmt(r['auto_max'])}",
              r["manual"], r["status"] + (" SUSPICIOUS" if r.get("suspicious") else ""),
              str(r["ai_disclosures"]), r.get("late") or "-"] for r in table]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    title = f"{assignment.title}  ({len(table)} graded; max {_fmt(assignment.auto_points)} auto + {_fmt(assignment.manual_points)} manual)"
    return "\n".join([title, fmt.format(*heads), fmt.format(*("-" * w for w in widths)),
                      *(fmt.format(*l) for l in lines)])


def _fmt(x) -> str:
    if x == "" or x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)
