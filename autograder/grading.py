"""Grade submissions: run each in the sandbox, judge the results, turn checks into points.

Many submissions run in parallel worker processes forked from this one after the heavy
imports (numpy, torch, matplotlib, pytest) are done, so no submission pays for them.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import select
import shutil
import sys
import tempfile
import time
from pathlib import Path

import course_config as cfg
from autograder import disclosures, sandbox
from autograder.notebook import NotebookError, read_notebook
from autograder.probe import probes_of
from autograder.results import (CRASHED, ERROR, GRADED, INVALID, CheckResult, QuestionResult,
                                SubmissionResult)

# What a submission or a judge would otherwise import anew in every forked process: pytest's
# own plugins, and the parts of torch that its autograd/testing code loads lazily (sympy
# alone takes a third of a second).
WARM_IMPORTS = ("numpy", "torch", "matplotlib", "nbformat", "pytest", "_pytest.debugging",
                "_pytest.faulthandler", "_pytest.junitxml", "torch.fx.experimental.symbolic_shapes",
                "secrets", "torchvision",  # torchvision: 2 s (it pulls in torch._dynamo)
                "transformers", "transformers.models.auto.tokenization_auto",
                "transformers.models.bert.tokenization_bert")  # the midterm's tokenizer
JUDGE_TIMEOUT_S = 600


def warm_up() -> None:
    """Import what every submission and judge needs, once, before any fork."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in WARM_IMPORTS:
        __import__(name)
    import matplotlib.pyplot  # noqa: F401  (after the backend is set)


def suite_module(assignment_id: str) -> str:
    return f"autograder.tests.{assignment_id}.probes"


def probe_timeouts(assignment_id: str) -> dict:
    """Read in a throwaway process so that this one never holds the hidden suite in memory
    (a forked student process would inherit it)."""
    return _in_fork(lambda: {name: f._autograder_probe["timeout"] or cfg.LIMITS.check_timeout_s
                             for name, f in probes_of(__import__(suite_module(assignment_id),
                                                                 fromlist=["_"])).items()},
                    timeout=120)


def policy(device: str = "cpu", extra_hidden=()) -> sandbox.Policy:
    limits, profile = cfg.LIMITS, cfg.DEVICE_PROFILES[device]
    hide = [cfg.ROOT / "source", cfg.ROOT / "autograder" / "tests", cfg.ROOT / ".git",
            cfg.GRADEBOOK_DIR, cfg.SUBMITTED_DIR, cfg.SAMPLES_DIR, *extra_hidden]
    return sandbox.Policy(
        load_timeout_s=limits.load_timeout_s, check_timeout_s=limits.check_timeout_s,
        submission_timeout_s=limits.submission_timeout_s, memory_mb=limits.memory_mb,
        memory_cap=profile.memory_cap, device=device, output_kb=limits.output_kb,
        max_processes=limits.max_processes,
        hide=tuple(dict.fromkeys(Path(p).resolve() for p in hide)), readonly=(cfg.ROOT,),
        visible=tuple(dict.fromkeys(p.resolve() for p in (
            Path(sys.base_prefix), Path(sys.prefix), cfg.ROOT, *cfg.DATA_DIRS,
            *(Path(e) for e in sys.path if e and Path(e).is_dir())))))


def hideable(paths) -> list[Path]:
    """The given directories, less any that hold the course, the scratch area or the system:
    hiding those from the student's process would hide what it needs to run."""
    keep = (cfg.ROOT, Path(tempfile.gettempdir()).resolve(), Path(sys.prefix).resolve())
    return sorted(p for p in map(Path, paths)
                  if p.is_dir() and not any(k == p or p in k.parents for k in keep))


def _in_fork(fn, timeout: float):
    """Run fn() in a forked child and return its JSON-able result (raises RuntimeError)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            try:
                payload = {"ok": True, "value": fn()}
            except BaseException as exc:  # noqa: BLE001
                payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(payload).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, 9)
                raise RuntimeError(f"timed out after {timeout:.0f} s")
            ready, _, _ = select.select([read_fd], [], [], left)
            if ready:
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError("the process ended without an answer")
    payload = json.loads(b"".join(chunks))
    if not payload["ok"]:
        raise RuntimeError(payload["error"])
    return payload["value"]


def judge(assignment_id: str, probe_results: dict, wall_seconds: dict | None = None,
          device: str = "cpu") -> dict:
    """Run the hidden tests on the probes' data in a forked, trusted process. `device` is the
    profile the probes ran on: the tests read it (grading_device()) to pick their thresholds."""

    def run():
        import torch

        os.environ["COURSE_GRADING_DEVICE"] = device

        from autograder.judge import run_suite
        torch.set_num_threads(1)
        return run_suite(assignment_id, probe_results, wall_seconds or {})

    return _in_fork(run, JUDGE_TIMEOUT_S)


def _zero(assignment: cfg.Assignment, why: str) -> list[QuestionResult]:
    questions = []
    for q in assignment.questions:
        if q.manual_points:
            questions.append(QuestionResult(q.id, q.title, 0.0, q.manual_points, manual=True))
        if q.checks:
            checks = [CheckResult(name, 0.0, pts, False, why) for name, pts in q.checks.items()]
            questions.append(QuestionResult(q.id, q.title, 0.0, q.auto_points, checks=checks))
    return questions


def score(assignment: cfg.Assignment, outcomes: dict, cell_errors=()) -> list[QuestionResult]:
    questions = []
    for q in assignment.questions:
        notes = [f"{label}: {message}" for label, question, message in cell_errors if question == q.id]
        if q.manual_points:
            questions.append(QuestionResult(q.id, q.title, 0.0, q.manual_points, manual=True, notes=notes))
        if not q.checks:
            continue
        checks = []
        for name, pts in q.checks.items():
            outcome = outcomes.get(name, {"passed": False, "message": "this check did not run"})
            checks.append(CheckResult(name, pts if outcome["passed"] else 0.0, pts,
                                      bool(outcome["passed"]), "" if outcome["passed"] else outcome["message"],
                                      details=list(outcome.get("details", []))))
        questions.append(QuestionResult(q.id, q.title, sum(c.points for c in checks), q.auto_points,
                                        checks=checks, notes=notes))
    return questions


def _slot_uid(slot: int) -> int | None:
    if os.geteuid() != 0:
        return None
    return sandbox.SLOT_UID_BASE + (os.getpgrp() % 50000) * 16 + slot % 16


def grade_notebook(assignment: cfg.Assignment, path: Path, student: str, slot: int = 0,
                   policy_: sandbox.Policy | None = None, timeouts: dict | None = None) -> SubmissionResult:
    started = time.monotonic()
    result = SubmissionResult(student=student, assignment=assignment.id, status=GRADED, source=str(path))
    try:
        cells = read_notebook(path, {q.id for q in assignment.questions})
    except NotebookError as exc:
        result.status, result.reason = INVALID, f"your file could not be graded: {exc}"
        result.questions = _zero(assignment, result.reason)
        result.seconds = time.monotonic() - started
        return result
    result.disclosures = [d.describe() for d in disclosures.scan(cells)]
    policy_ = policy_ or policy()
    timeouts = timeouts if timeouts is not None else probe_timeouts(assignment.id)
    uid = _slot_uid(slot)
    scratch = Path(tempfile.mkdtemp(prefix=f"grade-{student[:20]}-"))
    try:
        if uid is not None:
            os.chown(scratch, uid, uid)
        os.chmod(scratch, 0o700)
        report = sandbox.run(cells, suite_module(assignment.id), list(timeouts), timeouts,
                             policy_, scratch, uid)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.notes = [*(f"{label}: {msg}" for label, q, msg in report.cell_errors if q is None), *report.notes]
    if report.load_failure:
        result.status, result.reason = CRASHED, report.load_failure
        result.questions = _zero(assignment, f"not checked: {report.load_failure}")
        for question in result.questions:
            question.notes = [f"{label}: {msg}" for label, q, msg in report.cell_errors if q == question.id]
        result.seconds = time.monotonic() - started
        return result
    try:
        outcomes = judge(assignment.id, report.probes, report.wall_seconds, policy_.device)
    except RuntimeError as exc:
        result.status, result.reason = ERROR, f"the grader failed while judging: {exc}"
        result.seconds = time.monotonic() - started
        return result
    result.questions = score(assignment, outcomes, report.cell_errors)
    result.seconds = time.monotonic() - started
    return result


def find_submissions(assignment: cfg.Assignment, paths) -> list[tuple[str, Path]]:
    """(student, notebook) pairs. Each PATH is a notebook, one student's folder
    (`<student>/<assignment>/`), an nbgrader `submitted/` tree (`*/<assignment>/`), or a
    folder of notebooks (one per student, named after the student)."""

    def chosen(folder: Path) -> Path:
        preferred = folder / f"{assignment.notebook}.ipynb"
        notebooks = sorted(folder.glob("*.ipynb"))
        return preferred if preferred.exists() or not notebooks else notebooks[0]

    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            parts = path.resolve().parts
            student = parts[-3] if len(parts) >= 3 and parts[-2] == assignment.id else path.stem
            found.append((student, path))
        elif (path / assignment.id).is_dir():
            found.append((path.resolve().name, chosen(path / assignment.id)))
        elif path.is_dir():
            tree = sorted(p for p in path.glob(f"*/{assignment.id}") if p.is_dir())
            found += [(folder.parent.name, chosen(folder)) for folder in tree]
            if not tree:
                found += [(p.stem, p) for p in sorted(path.glob("*.ipynb"))]
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


# ------------------------------------------------------------------------------ parallel

_slot = 0


def _init_worker(counter) -> None:
    global _slot
    with counter.get_lock():
        counter.value += 1
        _slot = counter.value


def _grade_task(args) -> SubmissionResult:
    assignment_id, student, path, policy_, timeouts = args
    try:
        return grade_notebook(cfg.ASSIGNMENTS[assignment_id], Path(path), student, _slot, policy_, timeouts)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the batch
        return SubmissionResult(student=student, assignment=assignment_id, status=ERROR,
                                reason=f"the grader failed: {type(exc).__name__}: {exc}", source=str(path))


def grade_many(assignment: cfg.Assignment, submissions, workers: int = 1, device: str = "cpu",
               progress: bool = True):
    """Yield a SubmissionResult per (student, path), in completion order."""
    warm_up()
    if sandbox.isolation_warning():
        print(sandbox.isolation_warning(), file=sys.stderr)
    policy_ = policy(device, extra_hidden=hideable({Path(p).resolve().parent for _, p in submissions}))
    timeouts = probe_timeouts(assignment.id)
    tasks = [(assignment.id, student, str(path), policy_, timeouts) for student, path in submissions]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), desc=f"grading {assignment.id}", unit="sub", file=sys.stderr)
    try:
        if workers <= 1:
            for task in tasks:
                result = _grade_task(task)
                bar and bar.update(1)
                yield result
        else:
            ctx = multiprocessing.get_context("fork")
            counter = ctx.Value("i", 0)
            with ctx.Pool(workers, initializer=_init_worker, initargs=(counter,)) as pool:
                for result in pool.imap_unordered(_grade_task, tasks):
                    bar and bar.update(1)
                    yield result
    finally:
        if bar:
            bar.close()
