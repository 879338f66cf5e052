"""The embedded backend: `workers` threads of this process share one warm `Grader`; each
thread drives one student process at a time (the work happens in the forked processes)."""
from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autograder.sandbox import MAX_SLOTS as MAX_WORKERS  # each slot gets a uid of its own


def run(assignment, submissions, *, workers: int = 1, device: str = "cpu", no_isolation: bool = False,
        address: str | None = None):
    from autograder.grading import Grader

    if address:
        raise ValueError("--address names a cluster: it goes with --backend ray")
    submissions = list(submissions)
    workers = max(1, min(int(workers), MAX_WORKERS, len(submissions) or 1))
    grader = Grader(assignment, device, no_isolation)
    finished = False
    try:
        if grader.mode == "none":
            from autograder.sandbox import NO_ISOLATION_WARNING
            print(NO_ISOLATION_WARNING, file=sys.stderr)
        slots = threading.local()
        counter = iter(range(1 << 30))
        counter_lock = threading.Lock()

        def task(student, path):
            if not hasattr(slots, "slot"):
                with counter_lock:
                    slots.slot = next(counter)
            return grader.grade(Path(path), student, slots.slot)

        with ThreadPoolExecutor(workers, thread_name_prefix="grade") as pool:
            futures = [pool.submit(task, student, path) for student, path in submissions]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for f in futures:
                    f.cancel()
        finished = True
    finally:
        if finished:
            # Every result is out and every student process gone: the zygotes are told to end
            # now, and their interpreters' teardown (seconds with torch loaded, on a busy
            # machine) goes on without holding up the caller; a command may exit meanwhile.
            threading.Thread(target=grader.close, name="close-grader", daemon=True).start()
        else:
            grader.close()
