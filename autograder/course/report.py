"""`report HW`: what the instructor looks at after a grading run, from the stored results
(gradebook/results/<hw>/*.json) and nbgrader's gradebook: a terminal summary, and one page as
PNG and HTML (gradebook/reports/<hw>.png, .html) with the plots."""
from __future__ import annotations

import base64
import html
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import course_config as cfg


@dataclass
class Summary:
    assignment: cfg.Assignment
    rows: list[dict]
    totals: list[float] = field(default_factory=list)
    pass_rates: dict = field(default_factory=dict)  # question id -> share of students with full marks
    mean_share: dict = field(default_factory=dict)  # question id -> mean score / max
    failing: list = field(default_factory=list)  # (check, count, most common message)
    problems: list = field(default_factory=list)  # (student, what, why)
    late: list = field(default_factory=list)  # (student, how late, penalty)
    disclosures: Counter = field(default_factory=Counter)  # question id -> disclosures
    disclosing_students: Counter = field(default_factory=Counter)  # question id -> students
    seconds: dict = field(default_factory=dict)  # student -> grading seconds
    statuses: Counter = field(default_factory=Counter)


def summarize(assignment_id: str) -> Summary:
    from autograder import gradebook
    from autograder.results import load_stored

    a = cfg.ASSIGNMENTS[assignment_id]
    rows = gradebook.rows(assignment_id)
    stored = {r.student: r for r in load_stored(cfg.RESULTS_DIR, assignment_id)}
    s = Summary(a, rows)
    s.totals = [r["total"] for r in rows]
    auto_qs = [q for q in a.questions if q.checks]
    for q in auto_qs:
        scores = [r[q.id] for r in rows if isinstance(r[q.id], (int, float))]
        s.pass_rates[q.id] = sum(x >= q.auto_points - 1e-9 for x in scores) / len(scores) if scores else 0.0
        s.mean_share[q.id] = statistics.fmean(scores) / q.auto_points if scores else 0.0
    fails, messages = Counter(), defaultdict(Counter)
    qids = {q.id for q in a.questions}
    for row in rows:
        r = stored[row["student"]]
        s.statuses[r.status] += 1
        s.seconds[r.student] = r.seconds
        if r.status != "graded":
            s.problems.append((r.student, r.status, r.reason))
        if r.suspicious:
            s.problems.append((r.student, "suspicious", "; ".join(r.suspicious)))
        if row.get("late"):
            s.late.append((r.student, row["late"], row["late_penalty"]))
        seen = set()
        for d in r.disclosures:
            head = d.split(",", 1)[0]
            qid = head if head in qids else "(outside graded cells)"
            s.disclosures[qid] += 1
            seen.add(qid)
        for qid in seen:
            s.disclosing_students[qid] += 1
        if r.status != "graded":
            continue  # a crash fails every check for one reason: counted above, not per check
        for q in r.questions:
            for c in q.checks:
                if not c.passed:
                    fails[c.name] += 1
                    messages[c.name][c.message.splitlines()[0][:160] if c.message else ""] += 1
    s.failing = [(name, n, messages[name].most_common(1)[0][0]) for name, n in fails.most_common(8)]
    return s


def to_text(s: Summary) -> str:
    a, n = s.assignment, len(s.rows)
    out = [f"{a.title}: report", "=" * 72]
    if not n:
        return "\n".join(out + [f"nothing graded yet for {a.id}"])
    maxp = a.auto_points + a.manual_points
    pending = sum(r["manual"] == "pending" for r in s.rows)
    out.append(f"{n} graded ({', '.join(f'{v} {k}' for k, v in sorted(s.statuses.items()))}); "
               f"total out of {maxp:g}: mean {statistics.fmean(s.totals):.1f}, median {statistics.median(s.totals):g}, "
               f"min {min(s.totals):g}, max {max(s.totals):g}"
               + (f"; hand grading pending for {pending}" if pending else ""))
    secs = list(s.seconds.values())
    out.append(f"grading time per submission: mean {statistics.fmean(secs):.1f} s, median "
               f"{statistics.median(secs):.1f} s, max {max(secs):.1f} s ({max(s.seconds, key=s.seconds.get)})")
    out += ["", "per question            full marks   mean score"]
    for q in a.questions:
        if q.checks:
            out.append(f"  {q.id:22s} {s.pass_rates[q.id]:9.0%}   {s.mean_share[q.id]:9.0%} of {q.auto_points:g}"
                       f"   AI-use disclosures: {s.disclosing_students[q.id]} students")
        else:
            out.append(f"  {q.id:22s} (by hand, {q.manual_points:g} points)")
    if s.disclosures.get("(outside graded cells)"):
        out.append(f"  (outside graded cells)  AI-use disclosures: {s.disclosing_students['(outside graded cells)']} students")
    out += ["", "checks failed most often (graded submissions)"]
    out += [f"  {n_:3d}x {name}: {msg or '(no message)'}" for name, n_, msg in s.failing] or ["  none"]
    out += ["", "crashed, invalid or suspicious"]
    out += [f"  {st}: {what}: {why[:150]}" for st, what, why in s.problems] or ["  none"]
    out += ["", "late"]
    out += [f"  {st}: {how} (-{pen:g} points)" for st, how, pen in s.late] or ["  none"]
    return "\n".join(out)


def plot(s: Summary, png: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = s.assignment
    fig = plt.figure(figsize=(16, 10), dpi=100)
    grid = fig.add_gridspec(2, 3, hspace=0.45, wspace=0.75)
    fig.suptitle(f"{a.title}\n{len(s.rows)} graded  ·  due {a.due_at:%Y-%m-%d %H:%M} ({cfg.TIME_ZONE})",
                 fontsize=14, fontweight="bold")
    blue, red, grey = "#3b6fb6", "#c8553d", "#8a8a8a"

    ax = fig.add_subplot(grid[0, 0])
    maxp = a.auto_points + a.manual_points
    ax.hist(s.totals, bins=min(20, max(5, len(s.totals))), range=(0, maxp), color=blue, edgecolor="white")
    ax.set_title("Total score (after late penalty)")
    ax.set_xlabel(f"points (of {maxp:g})")
    ax.set_ylabel("students")

    ax = fig.add_subplot(grid[0, 1])
    qids = [q.id for q in a.questions if q.checks][::-1]
    rates = [s.pass_rates[q] for q in qids]
    ax.barh(qids, rates, color=[red if r < 0.5 else blue for r in rates])
    ax.set_xlim(0, 1)
    ax.set_title("Full marks per question")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    for y, r in enumerate(rates):
        inside = r > 0.8
        ax.text(r - 0.02 if inside else r + 0.02, y, f"{r:.0%}", va="center", ha="right" if inside else "left",
                fontsize=8, color="white" if inside else "black")

    ax = fig.add_subplot(grid[0, 2])
    if s.failing:
        names = [_short(name.removeprefix("test_"), 30) for name, _, _ in s.failing][::-1]
        ax.barh(names, [n for _, n, _ in s.failing][::-1], color=red)
        ax.set_xlabel("submissions failing it")
    else:
        ax.text(0.5, 0.5, "no check failed", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Checks failed most often")
    ax.tick_params(axis="y", labelsize=8)

    ax = fig.add_subplot(grid[1, 0])
    secs = list(s.seconds.values())
    ax.hist(secs, bins=min(20, max(5, len(secs))), color=grey, edgecolor="white")
    ax.set_title("Grading time per submission")
    ax.set_xlabel("seconds")
    ax.set_ylabel("submissions")

    ax = fig.add_subplot(grid[1, 1])
    dq = [q.id for q in a.questions] + (["(outside graded cells)"] if s.disclosures.get("(outside graded cells)") else [])
    ax.barh(dq[::-1], [s.disclosing_students[q] for q in dq][::-1], color="#7a5ea8")
    ax.set_title("AI-use disclosures (students per question)")
    ax.set_xlabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)

    ax = fig.add_subplot(grid[1, 2])
    ax.axis("off")
    lines = [f"Status: " + ", ".join(f"{v} {k}" for k, v in sorted(s.statuses.items())), ""]
    lines.append(f"Crashed / invalid / suspicious ({len(s.problems)}):")
    lines += [f"  {st}: {what}: {why[:48]}" for st, what, why in s.problems[:8]] or ["  none"]
    lines += ["", f"Late ({len(s.late)}):"]
    lines += [f"  {st}: {how} (-{pen:g} pt)" for st, how, pen in s.late[:8]] or ["  none"]
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=8.5, transform=ax.transAxes)
    ax.set_title("Needs a look", loc="left")

    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, bbox_inches="tight")
    plt.close(fig)
    return png


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def write(assignment_id: str) -> tuple[str, Path, Path]:
    """(terminal text, png path, html path)."""
    s = summarize(assignment_id)
    text = to_text(s)
    folder = cfg.GRADEBOOK_DIR / "reports"
    png = plot(s, folder / f"{assignment_id}.png") if s.rows else None
    page = folder / f"{assignment_id}.html"
    folder.mkdir(parents=True, exist_ok=True)
    img = (f'<img alt="plots" style="max-width:100%" src="data:image/png;base64,'
           f'{base64.b64encode(png.read_bytes()).decode()}">' if png else "")
    page.write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(s.assignment.title)}</title>"
                    f"<body style='font-family:sans-serif;max-width:1600px;margin:auto'>{img}"
                    f"<pre style='font-size:13px'>{html.escape(text)}</pre></body>", encoding="utf-8")
    return text, png, page
