"""The report a student gets back: per question, the points and, for each check that failed,
the message written for students (never the hidden test's code), the notes on their code
cells, and the AI-use disclosures the grader found (which never change a score)."""
from __future__ import annotations

import re
from pathlib import Path

import course_config as cfg
from autograder.results import CRASHED, INVALID, SubmissionResult, load_stored
from autograder.sandbox.protocol import clean_text


MAX_LINE = 600  # characters of one message in the feedback
MAX_REPORT = 200_000  # characters of a whole feedback file
_MARKDOWN = re.compile(r"([\\*_\[\]<>|~&`])")  # inline markup (a message never starts a line)


def safe(text, limit: int = MAX_LINE) -> str:
    """Text from a submission (an exception's name and message, a printed value, a folder
    name), made inert in Markdown and HTML: one line, capped, every markup character escaped."""
    one_line = " / ".join(part.strip() for part in clean_text(text, limit).splitlines() if part.strip())
    return _MARKDOWN.sub(r"\\\1", one_line)


def _pts(x: float) -> str:
    return f"{x:g}"


def render(result: SubmissionResult, hand: dict | None = None) -> str:
    """`hand`: question id -> (points or None while pending, comment), from the gradebook."""
    assignment = cfg.ASSIGNMENTS[result.assignment]
    hand = hand or {}
    out = [f"# {assignment.title}: feedback for {safe(result.student, 100)}", ""]
    manual = f" + {_pts(result.manual_max)} graded by hand" if result.manual_max else ""
    out.append(f"**Autograded score: {_pts(result.score)} / {_pts(result.max_score)}**{manual}")
    given = [hand[q.id][0] for q in result.questions if q.manual and hand.get(q.id, (None,))[0] is not None]
    pending = [q for q in result.questions if q.manual and hand.get(q.id, (None,))[0] is None]
    if result.manual_max:
        total = result.score + sum(given)
        out.append("")
        out.append(f"**Total: {_pts(total)} / {_pts(result.max_score + result.manual_max)}**"
                   + (" (hand-graded part pending)" if pending else ""))
    out.append("")
    if result.status in (CRASHED, INVALID):
        out += [f"> Your submission could not be run: {safe(result.reason)}.",
                "> Every autograded question got 0 for this reason. Fix it, check that "
                "*Kernel → Restart & Run All* works, and submit again.", ""]
    for note in result.notes:
        out.append(f"- Note: {safe(note)}")
    if result.notes:
        out.append("")
    for q in result.questions:
        if q.manual:
            points, comment = hand.get(q.id, (None, ""))
            mark = "pending" if points is None else f"{_pts(points)} / {_pts(q.max_score)}"
            out += [f"## {q.title}: {mark} (graded by hand)", ""]
            if comment:
                out += [f"> {safe(comment, 2000)}", ""]
            continue
        mark = "full marks" if q.score == q.max_score else f"{_pts(q.score)} / {_pts(q.max_score)}"
        out += [f"## {q.title}: {mark}", ""]
        for note in q.notes:
            out.append(f"- Your code: {safe(note)}")
        for check in q.checks:
            if check.passed:
                out.append(f"- [x] {_describe(check.name)} ({_pts(check.max_points)} pt)")
            else:
                out.append(f"- [ ] {_describe(check.name)} (0 / {_pts(check.max_points)} pt): {safe(check.message)}")
            out += [f"    - {safe(line)}" for line in check.details[:20]]
        out.append("")
    out.append("## AI-use disclosures found")
    out.append("")
    if result.disclosures:
        out += [f"- {safe(d)}" for d in result.disclosures[:50]]
        out.append("")
        out.append("Thank you for marking AI-generated code as the course asks; this does not change your score.")
    else:
        out.append("None found. If you used AI to generate code, the course rule is to mark it with a comment.")
    out.append("")
    text = "\n".join(out)
    if len(text) > MAX_REPORT:
        text = text[:MAX_REPORT] + "\n\n(the rest of this report was cut: it was too long)\n"
    return text


def _describe(check_name: str) -> str:
    return check_name.removeprefix("test_").replace("_", " ")


def write(result: SubmissionResult, feedback_dir: Path | None = None, hand: dict | None = None) -> Path:
    path = Path(feedback_dir or cfg.FEEDBACK_DIR) / result.student / f"{result.assignment}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_bytes(render(result, hand).encode("utf-8", "replace"))
    tmp.replace(path)
    return path


def write_all(assignment_id: str, results_dir: Path | None = None, feedback_dir: Path | None = None) -> list[Path]:
    """Every stored student's feedback, with the hand scores and comments given so far."""
    from autograder.gradebook import Recorder
    with Recorder() as recorder:
        return [write(r, feedback_dir, recorder.manual_grades(assignment_id, r.student))
                for r in load_stored(results_dir or cfg.RESULTS_DIR, assignment_id)]
