"""The class roster: a CSV (student id, name, email) imported into nbgrader's gradebook with
nbgrader's own API (`Gradebook.update_or_create_student`, what `nbgrader db student import`
calls). The whole file is checked first: a bad file changes nothing.

Accepted headers (case and spaces ignored): `id` or `student_id`; `name`, or `first_name` and
`last_name`; `email`. A copy of the imported roster (`gradebook/roster.csv`) says who is on it:
graded students who are not get a warning (and are still graded)."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import course_config as cfg

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")  # as grading.STUDENT_ID
ID_COLUMNS = ("id", "student_id", "studentid", "student")


class RosterError(Exception):
    """A roster that cannot be imported; the message says why, and nothing was changed."""


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str
    last_name: str
    email: str

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


def roster_path() -> Path:
    return cfg.GRADEBOOK_DIR / "roster.csv"


def parse(data: bytes, source: str = "the roster") -> list[Student]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise RosterError(f"{source} is not UTF-8 text (line {line}, byte {exc.start}): save it as UTF-8 "
                          f"(Excel: 'CSV UTF-8'); nothing was imported") from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise RosterError(f"{source} is empty; nothing was imported")
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]

    def col(*names):
        return next((header.index(n) for n in names if n in header), None)

    i_id, i_name, i_first, i_last, i_email = (col(*ID_COLUMNS), col("name", "full_name"), col("first_name"),
                                              col("last_name"), col("email", "e-mail", "mail"))
    missing = [what for what, ok in (("a student id column (id or student_id)", i_id is not None),
                                     ("a name column (name, or first_name and last_name)",
                                      i_name is not None or (i_first is not None and i_last is not None)),
                                     ("an email column (email)", i_email is not None)) if not ok]
    if missing:
        raise RosterError(f"{source} lacks {' and '.join(missing)}; its header is {rows[0]!r}; "
                          f"nothing was imported")
    students, seen, problems = [], {}, []
    for n, row in enumerate(rows[1:], start=2):
        def cell(i):
            return row[i].strip() if i is not None and i < len(row) else ""
        sid = cell(i_id)
        if not STUDENT_ID.fullmatch(sid):
            problems.append(f"line {n}: {sid!r} is not a usable student id (letters, digits and . _ - @ +, "
                            f"at most 64)")
            continue
        if sid in seen:
            problems.append(f"line {n}: student id {sid} again (first on line {seen[sid]})")
            continue
        seen[sid] = n
        if i_name is not None:
            first, last = "", cell(i_name)
        else:
            first, last = cell(i_first), cell(i_last)
        students.append(Student(sid, first, last, cell(i_email)))
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise RosterError(f"{source}: " + "; ".join(shown) + "; nothing was imported")
    return students


def import_roster(path: Path, db_path: Path | None = None) -> list[Student]:
    """Check the whole file, then add or update every student in nbgrader's gradebook and
    keep a copy as gradebook/roster.csv. Raises RosterError (nothing changed) on a bad file."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import _db_url, _retrying
    from autograder.nbgrader_setup import ensure_tools_on_path

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RosterError(f"cannot read {path}: {exc.strerror}") from None
    students = parse(data, str(path))
    ensure_tools_on_path()
    Path(db_path or cfg.GRADEBOOK_DB).parent.mkdir(parents=True, exist_ok=True)

    def write():
        with Gradebook(_db_url(db_path), cfg.COURSE_ID) as gb:
            for s in students:
                gb.update_or_create_student(s.id, first_name=s.first_name, last_name=s.last_name,
                                            email=s.email or None)
    _retrying(write)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "first_name", "last_name", "email"])
    w.writerows([s.id, s.first_name, s.last_name, s.email] for s in students)
    target = roster_path()
    tmp = target.with_suffix(".csv.tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    tmp.replace(target)
    return students


def load() -> dict[str, Student] | None:
    """The imported roster by id, or None when no roster was ever imported."""
    path = roster_path()
    if not path.is_file():
        return None
    return {s.id: s for s in parse(path.read_bytes(), str(path))}


def not_on_roster(students) -> list[str]:
    """The warning lines for graded students who are not on the imported roster (none when no
    roster was imported: then everyone graded is simply a student)."""
    roster = load()
    if roster is None:
        return []
    return [f"warning: {s} is not on the class roster ({roster_path()}); graded anyway: check the id, "
            f"or add the student to the roster and import it again" for s in students if s not in roster]
