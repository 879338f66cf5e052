"""The history of grade changes, from two sources read together by `read`:

- gradebook/history.jsonl, append-only, one JSON line per changed autograded score (time, who,
  assignment, student, question, before, after, why): written by our own recording whenever a
  grade changes a stored score (a regrade, a student graded again);
- the hand grading, wherever it is done (nbgrader's formgrader, nbgrader's API): SQLite triggers
  in the gradebook itself (`watch_hand_grades`) add a row to its table `autograder_hand_history`
  in the same transaction as each change of a hand score, an extra credit or a TA's comment,
  with the time of the change and the value before and after. nbgrader keeps no such record and
  has no hook for it; a trigger catches every change, by any program, at the moment it is made.
  The gradebook does not know *who* made it (the formgrader does not say): `who` is "formgrader".
"""
from __future__ import annotations

import datetime
import getpass
import json
import os
import sqlite3
from pathlib import Path

import course_config as cfg

HAND_TABLE = "autograder_hand_history"
# trigger name -> (nbgrader's table, column, the name shown in the history)
_WATCHED = {
    "autograder_hand_score": ("grade", "manual_score", "score"),
    "autograder_hand_extra_credit": ("grade", "extra_credit", "extra credit"),
    "autograder_hand_comment": ("comment", "manual_comment", "comment"),
}
_NBGRADER_TABLES = {"grade", "comment", "submitted_notebook", "submitted_assignment", "assignment", "base_cell"}


def log_path() -> Path:
    return cfg.GRADEBOOK_DIR / "history.jsonl"


def who() -> str:
    try:
        return os.environ.get("COURSE_GRADER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container): still log the change
        return "unknown"


def append(entries: list[dict], by: str | None = None) -> None:
    """Add `entries` (each: assignment, student, question, before, after, action, ...) with the
    time and who (`by`, else this process's user); one write of whole lines in append mode, so
    lines never interleave."""
    if not entries:
        return
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    user = by or who()
    text = "".join(json.dumps({"time": now, "who": user, **e}, ensure_ascii=False) + "\n" for e in entries)
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _trigger_sql(name: str, table: str, column: str, field: str) -> str:
    return f"""
CREATE TRIGGER IF NOT EXISTS {name} AFTER UPDATE OF {column} ON {table}
WHEN OLD.{column} IS NOT NEW.{column}
BEGIN
  INSERT INTO {HAND_TABLE} (time, assignment, student, question, field, before, after)
  SELECT strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), a.name, sa.student_id, c.name, '{field}',
         OLD.{column}, NEW.{column}
  FROM submitted_notebook sn
  JOIN submitted_assignment sa ON sa.id = sn.assignment_id
  JOIN assignment a ON a.id = sa.assignment_id
  LEFT JOIN base_cell c ON c.id = NEW.cell_id
  WHERE sn.id = NEW.notebook_id;
END"""


def watch_hand_grades(db_path: Path | None = None) -> bool:
    """Put the hand-grading triggers into the gradebook if they are not there (a gradebook
    written before them, or one whose tables nbgrader's migrations rebuilt). Idempotent; never
    creates a gradebook and never raises (one locked for over a second, or read-only, is tried
    again next time). True when they are in place."""
    path = Path(db_path or cfg.GRADEBOOK_DB)
    try:
        if not path.is_file():
            return False  # no gradebook yet: nothing to watch
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=1, isolation_level=None)
    except (sqlite3.Error, OSError):
        return False
    try:
        names = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
        if not _NBGRADER_TABLES <= names:
            return False  # not (yet) an nbgrader gradebook
        missing = [n for n in _WATCHED if n not in names]
        if missing or HAND_TABLE not in names:
            con.execute("BEGIN IMMEDIATE")
            con.execute(f"CREATE TABLE IF NOT EXISTS {HAND_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                        "time TEXT NOT NULL, assignment TEXT, student TEXT, question TEXT, field TEXT, "
                        "before, after)")
            for name in missing:
                con.execute(_trigger_sql(name, *_WATCHED[name]))
            con.execute("COMMIT")
    except sqlite3.Error:
        return False  # a locked gradebook: the transaction is rolled back as the connection closes
    finally:
        con.close()
    return True


def unwatch_hand_grades(db_path: Path | None = None) -> None:
    """Take the triggers out (their log table stays): before `nbgrader db upgrade`, whose
    migrations may rebuild tables the triggers name (SQLite then refuses the rebuild). Our next
    recording, `history`, or nbgrader's next command in the course puts them back."""
    con = sqlite3.connect(Path(db_path or cfg.GRADEBOOK_DB), timeout=15, isolation_level=None)
    try:
        for name in _WATCHED:
            con.execute(f"DROP TRIGGER IF EXISTS {name}")
    finally:
        con.close()


def _hand_entries(db_path: Path | None = None) -> list[dict]:
    path = Path(db_path or cfg.GRADEBOOK_DB)
    if not path.is_file():
        return []
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute(f"SELECT time, assignment, student, question, field, before, after "
                               f"FROM {HAND_TABLE} ORDER BY id").fetchall()
        finally:
            con.close()
    except sqlite3.Error:  # no such table yet (nothing graded by hand since the watch), locked, ...
        return []
    return [{"time": t, "who": "formgrader", "action": "hand", "assignment": a, "student": s, "question": q,
             "field": f, "before": b, "after": x} for t, a, s, q, f, b, x in rows]


def read(assignment: str | None = None, student: str | None = None, db_path: Path | None = None) -> list[dict]:
    """Every logged change, oldest first: our recordings' (history.jsonl) and the hand grading's
    (the gradebook's triggers; their watch is put in place here too if it is missing)."""
    watch_hand_grades(db_path)
    entries = []
    path = log_path()
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash: skipped, the rest still reads
    entries += _hand_entries(db_path)
    entries = [e for e in entries if (assignment is None or e.get("assignment") == assignment)
               and (student is None or e.get("student") == student)]
    entries.sort(key=lambda e: e.get("time", ""))  # stable: same-second entries keep their order
    return entries


def to_text(entries: list[dict]) -> str:
    if not entries:
        return "no grade changes logged"
    lines = []
    for e in entries:
        why = f"  ({e['reason']})" if e.get("reason") else ""
        field = e.get("field", "score")
        what = e["question"] if field == "score" else f"{e['question']} {field}"
        if field == "comment":
            change = f"{_quote(e.get('before'))} -> {_quote(e.get('after'))}"
        else:
            change = f"{_pts(e.get('before'))} -> {_pts(e.get('after'))}"
        lines.append(f"{e['time']}  {e.get('who', '?'):10s} {e.get('action', ''):8s} {e['assignment']}  "
                     f"{e['student']}  {what}: {change}{why}")
    return "\n".join(lines)


def _pts(x) -> str:
    return "-" if x is None else f"{x:g}"


def _quote(text, limit: int = 60) -> str:
    if not text:
        return "(none)"
    text = " ".join(str(text).split())
    return json.dumps(text if len(text) <= limit else text[:limit - 1] + "…", ensure_ascii=False)
