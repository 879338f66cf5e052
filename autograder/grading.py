"""Grade submissions: run each in the sandbox, judge the results, turn checks into points.

Three kinds of process, none forked from this one:
- the student zygote (`autograder.sandbox`), which imports the assignment's libraries once
  and forks an isolated process per run of a submission's code;
- the judge zygote, which imports torch and pytest and forks a judge per submission: the
  hidden suite runs there, on the data the student's process sent back;
- this process, which only drives them (a thread per grading worker), scores and records.
So a student's process can find nothing in its memory but libraries and its own code.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path

import course_config as cfg
from autograder import disclosures
from autograder.notebook import NotebookError, read_notebook
from autograder.results import (CRASHED, ERROR, GRADED, INVALID, CheckResult, QuestionResult,
                                SubmissionResult)
from autograder.sandbox import Policy, Sandbox, choose_mode, masked_packages, package_files, protocol
from autograder.sandbox.zygote import Zygote, ZygoteError

JUDGE_IMPORTS = ("numpy", "torch", "pytest", "_pytest.debugging", "_pytest.faulthandler",
                 "_pytest.junitxml", "torch.fx.experimental.symbolic_shapes", "secrets")
JUDGE_TIMEOUT_S = 600
MAX_CODE_CHARS = 4_000_000  # all the code cells a submission asks us to run
MAX_CODE_CELLS = 2000
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def suite_module(assignment_id: str) -> str:
    return f"autograder.tests.{assignment_id}.probes"


def student_env(device: str) -> dict:
    """The whole environment of a student's process: nothing of the grader's leaks in."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "USER": "student", "LOGNAME": "student", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONDONTWRITEBYTECODE": "1",
           "COURSE_GRADING_DEVICE": device}
    if device != "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU on the cpu profile
    elif "CUDA_VISIBLE_DEVICES" in os.environ:  # the grader's (or Ray's) choice; unset: every GPU
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]  # ("" would hide them all)
    return env


def visible_paths(assignment_id: str | None, device: str = "cpu", extra=()) -> tuple[str, ...]:
    """The allow-list: the Python runtime and its packages, the student-side runtime
    (`assignments/`), the assignment's release folder, the data directories. Nothing else of
    the course (no source/, hidden tests, gradebook, submissions, .git)."""
    root = cfg.ROOT.resolve()
    runtime = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix)}
    prefixes = {p.resolve() for p in runtime}
    for entry in sys.path:  # the installed packages, wherever they live; not a script's folder
        path = Path(entry or ".").resolve()
        inside = any(p in [path, *path.parents] for p in prefixes)
        if path.is_dir() and (inside or path.name in ("site-packages", "dist-packages")):
            runtime.add(path)
    course = [root / "assignments", *cfg.DATA_DIRS]
    if assignment_id:
        course.append(root / "release" / assignment_id)
    devices = []
    if device == "cuda":  # the GPU's device files and what its driver reads (run on an H200: README)
        devices = [str(p) for p in Path("/dev").glob("nvidia*")] + ["/sys"]
    return tuple(dict.fromkeys(str(p.resolve()) for p in (*runtime, *course, *map(Path, extra)) if p.exists())) + tuple(devices)


def policy(assignment: cfg.Assignment | None = None, device: str = "cpu") -> Policy:
    limits, profile = cfg.LIMITS, cfg.DEVICE_PROFILES[device]
    return Policy(
        load_timeout_s=limits.load_timeout_s, load_total_s=limits.load_total_s,
        check_timeout_s=limits.check_timeout_s, submission_timeout_s=limits.submission_timeout_s,
        memory_mb=limits.memory_mb, memory_cap=profile.memory_cap, device=device,
        output_kb=limits.output_kb, max_processes=limits.max_processes,
        visible=visible_paths(assignment.id if assignment else None, device),
        masked=masked_packages(assignment.forbidden_modules, assignment.title) if assignment else {},
        hidden_files=package_files(assignment.hidden_files) if assignment else (),
        env=student_env(device))


class Judge:
    """The judge zygote's handle: each submission's hidden suite runs in its own forked judge."""

    def __init__(self):
        self.zygote = Zygote("judge", JUDGE_IMPORTS, env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"},
                             cwd=str(cfg.ROOT))

    def _ask(self, job: dict, payload: dict | None, timeout: float) -> dict:
        pid, chan, status = self.zygote.start(job)
        try:
            if payload is not None:
                chan.sendall(protocol.pack(payload))
            chan.settimeout(timeout)
            reader, deadline = protocol.FrameReader(), time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = chan.recv(1 << 20)
                if not chunk:
                    break
                frames = reader.feed(chunk)
                if frames:
                    return frames[0]
            raise RuntimeError("the judge ended without an answer")
        except OSError as exc:
            raise RuntimeError(f"the judge did not answer ({exc})") from None
        finally:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            chan.close()
            status.close()

    def timeouts(self, assignment: cfg.Assignment) -> dict:
        reply = self._ask({"op": "timeouts", "assignment": assignment.id}, None, 120)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error"))
        return {name: t or cfg.LIMITS.check_timeout_s for name, t in reply["timeouts"].items()}

    def judge(self, assignment_id: str, probes: dict, wall_seconds: dict, device: str) -> dict:
        payload = {"probes": {k: protocol.encode_value(v) for k, v in probes.items()}, "wall": wall_seconds}
        reply = self._ask({"op": "judge", "assignment": assignment_id, "device": device}, payload, JUDGE_TIMEOUT_S)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error"))
        return reply

    def close(self) -> None:
        self.zygote.close()


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


class Grader:
    """Grades submissions of one assignment: owns the two zygotes; thread-safe."""

    def __init__(self, assignment: cfg.Assignment, device: str = "cpu", no_isolation: bool = False,
                 suite: str | None = None, suite_path: str | None = None):
        self.assignment, self.device = assignment, device
        self.mode = choose_mode(no_isolation)
        self.policy = policy(assignment, device)
        self.judge = Judge()
        self.sandbox = Sandbox(suite or suite_module(assignment.id), assignment.warm_imports, self.policy,
                               self.mode, suite_path)
        self._timeouts = None
        self._lock = threading.Lock()

    def timeouts(self) -> dict:
        with self._lock:
            if self._timeouts is None:
                self._timeouts = self.judge.timeouts(self.assignment)
            return self._timeouts

    def alive(self) -> bool:
        """Both zygotes still run (a long-lived grader, `serve`, replaces one that does not)."""
        return all(z.process.poll() is None for z in (self.sandbox.zygote, self.judge.zygote))

    def close(self) -> None:
        # Both zygotes start ending at once (a torch interpreter's teardown takes a while), then wait.
        for zygote in (self.sandbox.zygote, self.judge.zygote):
            zygote.control.close()
        self.sandbox.close()
        self.judge.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def grade(self, path: Path, student: str, slot: int = 0) -> SubmissionResult:
        try:
            return self._grade(path, student, slot)
        except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the batch
            return SubmissionResult(student=student, assignment=self.assignment.id, status=ERROR,
                                    reason=protocol.clean_text(f"the grader failed: {type(exc).__name__}: {exc}", 500),
                                    source=str(path))

    def _grade(self, path: Path, student: str, slot: int) -> SubmissionResult:
        assignment = self.assignment
        started = time.monotonic()
        result = SubmissionResult(student=student, assignment=assignment.id, status=GRADED, source=str(path))
        try:
            cells = read_notebook(path, {q.id for q in assignment.questions})
            code = [c for c in cells if c.run]
            if len(code) > MAX_CODE_CELLS or sum(len(c.source) for c in code) > MAX_CODE_CHARS:
                raise NotebookError(f"the notebook holds more code than the grader runs "
                                    f"({MAX_CODE_CELLS} code cells, {MAX_CODE_CHARS // 10**6} MB of code at most)")
        except NotebookError as exc:
            result.status, result.reason = INVALID, f"your file could not be graded: {exc}"
            result.questions = _zero(assignment, result.reason)
            result.seconds = time.monotonic() - started
            return result
        result.disclosures = [d.describe() for d in disclosures.scan(cells)]
        if not any(c.question for c in cells):
            result.notes.append(f"this notebook has none of {assignment.id}'s graded cells: is it the notebook "
                                f"of another assignment? It was graded as {assignment.id}")
        timeouts = self.timeouts()
        report = self.sandbox.run(cells, list(timeouts), timeouts, slot)
        shown = {c.label: c.shown for c in cells}  # "cell 9 (\"def train(...\")" in what students read
        report.cell_errors = [(shown.get(label, label), q, msg) for label, q, msg in report.cell_errors]
        result.notes += [*(f"{label}: {msg}" for label, q, msg in report.cell_errors if q is None), *report.notes]
        result.suspicious = list(report.suspicious)
        if report.grader_error:
            result.status, result.reason = ERROR, report.grader_error
            result.seconds = time.monotonic() - started
            return result
        if report.load_failure:
            result.status, result.reason = CRASHED, report.load_failure
            result.questions = _zero(assignment, f"not checked: {report.load_failure}")
            for question in result.questions:
                question.notes = [f"{label}: {msg}" for label, q, msg in report.cell_errors if q == question.id]
            result.seconds = time.monotonic() - started
            return result
        probes, wall = dict(report.probes), dict(report.wall_seconds)
        if assignment.clean_probes:  # the same probes in a process that never saw this student's code
            clean = self.sandbox.run([], list(assignment.clean_probes), timeouts, slot)
            if clean.grader_error:
                result.status, result.reason = ERROR, clean.grader_error
                result.seconds = time.monotonic() - started
                return result
            probes.update({f"clean:{k}": v for k, v in clean.probes.items()})
            wall.update({f"clean:{k}": v for k, v in clean.wall_seconds.items()})
        try:
            verdict = self.judge.judge(assignment.id, probes, wall, self.device)
        except (RuntimeError, ZygoteError) as exc:
            result.status, result.reason = ERROR, f"the grader failed while judging: {exc}"
            result.seconds = time.monotonic() - started
            return result
        result.suspicious += [protocol.clean_text(s, 500) for s in verdict.get("suspicious", [])]
        result.questions = score(assignment, verdict["outcomes"], report.cell_errors)
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
        if path.is_file() and path.suffix != ".ipynb":
            raise ValueError(f"{path} is not a notebook (.ipynb): give notebooks or folders of them")
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
    usable = []
    for student, path in found:  # the id names files and folders of the gradebook and feedback
        if STUDENT_ID.fullmatch(student):
            usable.append((student, path))
        else:
            print(f"warning: skipped {path}: {student!r} is not a usable student id "
                  f"(letters, digits and . _ - @ +, at most 64)", file=sys.stderr)
    return usable


# ------------------------------------------------------------------------------ parallel

def grade_many(assignment: cfg.Assignment, submissions, workers: int = 1, device: str = "cpu",
               progress: bool = True, no_isolation: bool = False, backend: str = "local",
               address: str | None = None):
    """Yield a SubmissionResult per (student, path), in completion order, each exactly once.
    `backend` says where the `workers` warm graders run (`autograder.backends`: "local", this
    process's threads; "ray", actors on the Ray cluster at `address`); nothing is recorded
    here: the caller records each result as it arrives."""
    from autograder import backends

    run = backends.get(backend)
    submissions = list(submissions)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(submissions), desc=f"grading {assignment.id}", unit="sub", file=sys.stderr)
    results = run(assignment, submissions, workers=workers, device=device, no_isolation=no_isolation,
                  address=address)
    try:
        for result in results:
            if bar:
                bar.update(1)
            yield result
    finally:
        results.close()
        if bar:
            bar.close()
