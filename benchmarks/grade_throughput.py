"""Grading throughput: our grader (1 and 2 workers) against `nbgrader autograde`, same run,
same HW1 submissions.

    .venv/bin/python benchmarks/grade_throughput.py [--copies 10] [--sample ref_reference]

Copies one shipped sample submission N times into a scratch nbgrader course, then times
  1. `python -m autograder`-style grading (grading.grade_many) with 1 worker and with 2,
  2. `nbgrader autograde` on the same submissions (it runs every cell of the notebook, as it
     always does; our grader runs the code cells except public checks and cells tagged
     `skip-grading`, then the hidden probes),
and prints seconds per submission and the ratios. Nothing is recorded in the real gradebook.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import course_config as cfg  # noqa: E402
from autograder import grading  # noqa: E402


def time_ours(assignment, submissions, workers):
    started = time.perf_counter()
    results = list(grading.grade_many(assignment, submissions, workers=workers, progress=False))
    elapsed = time.perf_counter() - started
    scores = sorted({r.score for r in results})
    return elapsed, scores


def time_nbgrader(assignment, notebook: Path, copies: int, course: Path):
    (course / "source").symlink_to(ROOT / "source")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.course_id = {cfg.COURSE_ID!r}\n"
        "c.ExecutePreprocessor.timeout = 600\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", assignment.id, "--force"], cwd=course, env=env,
                   check=True, capture_output=True)
    for i in range(copies):
        dest = course / "submitted" / f"student{i:03d}" / assignment.id
        dest.mkdir(parents=True)
        shutil.copy(notebook, dest / f"{assignment.notebook}.ipynb")
        shutil.copytree(ROOT / "assignments", dest / "assignments")
    started = time.perf_counter()
    done = subprocess.run([*nbgrader, "autograde", assignment.id, "--force"], cwd=course, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:])
        raise SystemExit("nbgrader autograde failed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="hw1_backprop")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--sample", default="ref_reference", help="sample student to copy")
    parser.add_argument("--skip-nbgrader", action="store_true")
    args = parser.parse_args()

    assignment = cfg.ASSIGNMENTS[args.assignment]
    notebook = cfg.SAMPLES_DIR / "submitted" / args.sample / assignment.id / f"{assignment.notebook}.ipynb"
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        scratch = Path(scratch)
        copies = []
        for i in range(args.copies):
            dest = scratch / "ours" / f"student{i:03d}" / assignment.id
            dest.mkdir(parents=True)
            shutil.copy(notebook, dest / notebook.name)
            copies.append((f"student{i:03d}", dest / notebook.name))
        rows = []
        time_ours(assignment, copies[:1], 1)  # untimed: first-touch costs (page cache, lazy imports)
        for workers in (1, 2):
            elapsed, scores = time_ours(assignment, copies, workers)
            rows.append((f"ours, {workers} worker{'s' * (workers > 1)}", elapsed, scores))
        if not args.skip_nbgrader:
            course = scratch / "nbgrader"
            course.mkdir()
            rows.append(("nbgrader autograde", time_nbgrader(assignment, notebook, args.copies, course), None))

    n = args.copies
    print(f"{assignment.id}: {n} copies of {args.sample}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'grader':22s} {'total s':>8s} {'s/submission':>13s}  scores")
    for name, elapsed, scores in rows:
        print(f"{name:22s} {elapsed:8.1f} {elapsed / n:13.2f}  {scores if scores is not None else ''}")
    one, two = rows[0][1], rows[1][1]
    print(f"2 workers vs 1: {one / two:.2f}x faster")
    if len(rows) > 2:
        print(f"ours (1 worker) vs nbgrader autograde: {rows[2][1] / one:.1f}x faster per submission")
        print(f"ours (2 workers) vs nbgrader autograde: {rows[2][1] / two:.1f}x faster per submission")


if __name__ == "__main__":
    main()
