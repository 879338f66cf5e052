"""Where the time of one `grade` goes: runs the CLI in this process (as `python -m autograder
grade ASSIGNMENT NOTEBOOK` does, against a fresh scratch gradebook) and prints, on the wall
clock from the interpreter's start, when each phase began and ended.

    .venv/bin/python benchmarks/one_submission.py [--assignment hw1_backprop] [--sample ref_reference]
                                                  [--keep-gradebook DIR] [-- extra grade options]

Phases: the coordinator's imports, the wait for each zygote to be ready (its imports), the
judge's list of timeouts, the run in the sandbox, the judge, and the recording (nbgrader's
import and the gradebook, in its own thread). CPU seconds of this process and its children
are printed too: on a shared machine wall time says little, CPU time more.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

T0 = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
EVENTS: list[tuple[float, float, str]] = []
LOCK = threading.Lock()


def timed(owner, name: str, label: str):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter() - T0
        try:
            return original(*args, **kwargs)
        finally:
            with LOCK:
                EVENTS.append((start, time.perf_counter() - T0, label(args) if callable(label) else label))

    setattr(owner, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="hw1_backprop")
    parser.add_argument("--sample", default="ref_reference")
    parser.add_argument("--keep-gradebook", metavar="DIR", help="use (and keep) this gradebook folder")
    parser.add_argument("extra", nargs="*", help="more `grade` options (after --)")
    args = parser.parse_args()
    os.environ["COURSE_GRADEBOOK_DIR"] = args.keep_gradebook or tempfile.mkdtemp(prefix="bench-gradebook-")
    sys.path.insert(0, str(ROOT))

    started = time.perf_counter() - T0
    from autograder import cli  # noqa: E402  (what `python -m autograder` imports first)
    from autograder import grading  # noqa: E402  (cmd_grade's first import)
    EVENTS.append((started, time.perf_counter() - T0, "coordinator: cli + grading imports"))
    from autograder.sandbox import zygote  # noqa: E402

    timed(zygote.Zygote, "wait_ready", lambda a: f"{a[0].role} zygote: waited for ready")
    timed(grading.Judge, "timeouts", "judge: timeouts of the checks")
    timed(grading.Grader, "close", "close the grader (both zygotes end)")
    timed(grading.Judge, "judge", "judge: hidden suite")
    from autograder.sandbox import Sandbox  # noqa: E402
    timed(Sandbox, "run", lambda a: f"sandbox run ({len(a[1])} cells)")
    from autograder import recording  # noqa: E402
    timed(recording, "open_recorder", "recording thread: nbgrader import + gradebook ready")
    timed(recording, "store", "record the grade (gradebook, result file, feedback)")

    assignment = grading.cfg.ASSIGNMENTS[args.assignment]
    notebook = ROOT / "samples" / "submitted" / args.sample / assignment.id / f"{assignment.notebook}.ipynb"
    code = cli.main(["grade", assignment.id, str(notebook), *args.extra])
    EVENTS.append((0, time.perf_counter() - T0, "cli.main returned"))
    end = time.perf_counter() - T0
    for start, stop, label in sorted(EVENTS):
        print(f"  {start:6.2f} -> {stop:6.2f}  ({stop - start:5.2f} s)  {label}")
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    kids_cpu = kids.ru_utime + kids.ru_stime  # only children already waited for
    print(f"total {end:.2f} s wall (from this interpreter's first line; add ~0.05 s of Python start-up); "
          f"CPU: coordinator {me.ru_utime + me.ru_stime:.2f} s, zygotes and their children "
          f"{f'{kids_cpu:.2f} s' if kids_cpu else 'not counted (still ending when grade returned)'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return code


if __name__ == "__main__":
    sys.exit(main())
