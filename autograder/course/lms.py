"""An LMS-ready CSV: one row per student (the roster, and anyone graded), a column per
assignment (percent of its points, after the late penalty; 0 when the assignment has been
graded but the student has no submission), and the weighted total with the syllabus'
weights (`course_config.GRADE_WEIGHTS`). Quizzes and the final project are graded elsewhere:
their columns are left empty and the total says how many course points it covers."""
from __future__ import annotations

import csv
import io

import course_config as cfg


def table() -> tuple[list[str], list[dict]]:
    from autograder import gradebook
    from autograder.course import roster

    people = dict(roster.load() or {})
    per_assignment, graded = {}, []
    for a in cfg.ASSIGNMENTS.values():
        rows = {r["student"]: r for r in gradebook.rows(a.id)}
        if rows:
            graded.append(a.id)
        per_assignment[a.id] = rows
    students = sorted(set(people) | {s for rows in per_assignment.values() for s in rows})
    others = [k for k in cfg.GRADE_WEIGHTS if k not in cfg.ASSIGNMENTS]
    heads = ["student_id", "name", "email", *cfg.ASSIGNMENTS, *others, "weighted_total", "weighted_out_of", "notes"]
    out = []
    for sid in students:
        p = people.get(sid)
        row = {"student_id": sid, "name": p.name if p else "", "email": p.email if p else ""}
        total, covered, notes = 0.0, 0.0, []
        if p is None and people:
            notes.append("not on the roster")
        for a in cfg.ASSIGNMENTS.values():
            weight = cfg.GRADE_WEIGHTS.get(a.id, 0.0)
            r = per_assignment[a.id].get(sid)
            if a.id not in graded:
                row[a.id] = ""
                continue
            percent = 100.0 * r["total"] / r["max"] if r else 0.0
            row[a.id] = round(percent, 2)
            total += weight * percent / 100
            covered += weight
            if r is None:
                notes.append(f"{a.id}: no submission")
            elif r["manual"] == "pending":
                notes.append(f"{a.id}: hand grading pending")
            if r and r.get("late_penalty"):
                notes.append(f"{a.id}: late -{r['late_penalty']:g} pt")
        for k in others:
            row[k] = ""
        row.update(weighted_total=round(total, 2), weighted_out_of=covered, notes="; ".join(notes))
        out.append(row)
    return heads, out


def to_csv(heads: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=heads)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
