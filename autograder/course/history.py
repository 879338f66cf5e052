"""The history of grade changes: an append-only log, gradebook/history.jsonl, one JSON line
per changed question (time, who, assignment, student, question, before, after, why). Written
whenever a recorded grade changes a stored autograded score (a regrade, a student graded again);
hand scores entered in the formgrader are nbgrader's own and not logged here."""
from __future__ import annotations

import datetime
import getpass
import json
import os
from pathlib import Path

import course_config as cfg


def log_path() -> Path:
    return cfg.GRADEBOOK_DIR / "history.jsonl"


def who() -> str:
    try:
        return os.environ.get("COURSE_GRADER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container): still log the change
        return "unknown"


def append(entries: list[dict]) -> None:
    """Add `entries` (each: assignment, student, question, before, after, action, ...) with the
    time and who; one write of whole lines in append mode, so lines never interleave."""
    if not entries:
        return
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    user = who()
    text = "".join(json.dumps({"time": now, "who": user, **e}, ensure_ascii=False) + "\n" for e in entries)
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def read(assignment: str | None = None, student: str | None = None) -> list[dict]:
    path = log_path()
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: skipped, the rest still reads
        if (assignment is None or e.get("assignment") == assignment) and (student is None or e.get("student") == student):
            out.append(e)
    return out


def to_text(entries: list[dict]) -> str:
    if not entries:
        return "no grade changes logged"
    lines = []
    for e in entries:
        why = f"  ({e['reason']})" if e.get("reason") else ""
        lines.append(f"{e['time']}  {e.get('who', '?'):10s} {e.get('action', ''):8s} {e['assignment']}  "
                     f"{e['student']}  {e['question']}: {_pts(e.get('before'))} -> {_pts(e.get('after'))}{why}")
    return "\n".join(lines)


def _pts(x) -> str:
    return "-" if x is None else f"{x:g}"
