"""Grading on a Ray cluster: each Ray worker is a warm grader.

A worker is a Ray actor that builds one `autograder.grading.Grader` when it starts (its
student zygote imports the assignment's libraries once, its judge zygote torch and pytest)
and then grades one submission per call, forking the same sandbox per submission as the
local backend does, with the same limits and isolation. The coordinator (this process):

- reads each notebook itself (links and hard links refused here, where the submissions live)
  and sends its bytes with the call, so a worker needs the course checkout but not the
  submissions folder;
- keeps `workers` actors busy, one submission each; a GPU-profile actor asks Ray for
  `num_gpus=1`, so no two submissions are ever timed on the same GPU;
- yields each result once, as it arrives; it alone records them (`cli.grade_and_record`);
- when a worker process or its node dies mid-submission, starts a fresh worker and grades
  that submission again there; a submission during which a worker died `MAX_DEATHS` times
  is yielded as crashed, with the reason. Nothing is recorded twice: only the coordinator
  records, and it yields a submission once.
- on Ctrl-C (or when the caller stops iterating) kills its actors; their zygotes and the
  student processes under them end with them.

`ray` is imported only here, only when this backend is chosen.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from collections import deque
from pathlib import Path

MAX_DEATHS = 2  # a submission that kills its worker this many times is recorded as crashed
WORKER_CPUS = 1  # each worker drives one student process (one BLAS thread) at a time
MAX_WORKERS = 1024
CLOSE_TIMEOUT_S = 30


class GraderWorker:
    """The actor's body (`ray.remote` wraps it in `_actor_class`)."""

    def __init__(self, assignment_id: str, device: str, no_isolation: bool):
        import course_config as cfg
        from autograder.grading import Grader
        from autograder.sandbox import IsolationUnavailable

        self.error, self.grader = None, None
        try:
            self.grader = Grader(cfg.ASSIGNMENTS[assignment_id], device, no_isolation)
        except IsolationUnavailable as exc:
            self.error = str(exc)
        self.scratch = tempfile.mkdtemp(prefix="ray-grader-")
        os.chmod(self.scratch, 0o700)

    def ready(self) -> dict:
        return {"pid": os.getpid(), "node": socket.gethostname(), "error": self.error,
                "mode": self.grader.mode if self.grader else None}

    def grade(self, student: str, source: str, data: bytes):
        """Grade the notebook `data` (handed in as `source` on the coordinator's machine)."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            path = folder / "submission.ipynb"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            result = self.grader.grade(path, student, 0)  # one submission at a time: slot 0
            result.source = source
            return result
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        if self.grader:
            self.grader.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _actor_class(device: str):
    import ray

    return ray.remote(num_cpus=WORKER_CPUS, num_gpus=1 if device == "cuda" else 0,
                      max_restarts=0, max_task_retries=0)(GraderWorker)


# ------------------------------------------------------------------------------ the cluster

@contextlib.contextmanager
def _startup_priority():
    """Ray's raylet gives its agents a fixed 15 s to come up (ray-project/ray#65983) and dies
    otherwise; on a shared, loaded machine their imports alone take longer. While a local node
    starts, the scheduling group its processes share with this one (Linux autogroup) gets a
    higher weight, and its own back afterwards. Needs root; a no-op otherwise."""
    path = "/proc/self/autogroup"
    try:
        with open(path) as f:
            before = f.read().split()[-1]
        with open(path, "w") as f:
            f.write("-15")
    except (OSError, IndexError):
        before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                with open(path, "w") as f:
                    f.write(before)


def start_local_cluster(**kwargs) -> None:
    """A one-machine Ray cluster inside this process's session (tests, `--backend ray` without
    an address): no dashboard; Ray's token authentication on."""
    import ray

    kwargs.setdefault("include_dashboard", False)
    kwargs.setdefault("log_to_driver", False)
    kwargs.setdefault("logging_level", "WARNING")
    with _startup_priority():
        ray.init(**kwargs)


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after Ray's minute of retries, when nothing listens at HOST:PORT."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local", ray://...: Ray's own resolution
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or exc})") from None


def connect(address: str | None = None) -> bool:
    """Join the cluster at `address` (or $RAY_ADDRESS), or start a local one. True if this
    call connected (the caller then disconnects); False if Ray was already initialised."""
    import ray

    from autograder.backends import BackendUnavailable

    if ray.is_initialized():
        return False
    try:
        if address or os.environ.get("RAY_ADDRESS"):
            _reachable(address or os.environ["RAY_ADDRESS"])
            ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        else:
            start_local_cluster()
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "a local Ray cluster"
        raise BackendUnavailable(f"--backend ray: could not connect to {where}: {_cause(exc)}") from None
    return True


# ------------------------------------------------------------------------------ grading

def _invalid(assignment, student: str, path, why: str):
    """What `Grader.grade` returns for a file it cannot read (here: refused on the coordinator)."""
    from autograder.grading import _zero
    from autograder.results import INVALID, SubmissionResult

    reason = f"your file could not be graded: {why}"
    return SubmissionResult(student=student, assignment=assignment.id, status=INVALID, reason=reason,
                            questions=_zero(assignment, reason), source=str(path))


def _lost(assignment, student: str, path, deaths: int, cause: str):
    """The result of a submission during which `deaths` grading workers died."""
    from autograder.grading import _zero
    from autograder.results import CRASHED, SubmissionResult
    from autograder.sandbox.protocol import clean_text

    reason = clean_text(f"the grading worker died {deaths} times while grading this submission, so it "
                        f"was not graded ({cause}); the course staff can grade it again", 500)
    return SubmissionResult(student=student, assignment=assignment.id, status=CRASHED, reason=reason,
                            questions=_zero(assignment, f"not checked: {reason}"), source=str(path))


def _failed(assignment, student: str, path, why: str):
    from autograder.results import ERROR, SubmissionResult
    from autograder.sandbox.protocol import clean_text

    return SubmissionResult(student=student, assignment=assignment.id, status=ERROR,
                            reason=clean_text(f"the grader failed: {why}", 500), source=str(path))


def _cause(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def run(assignment, submissions, *, workers: int = 1, device: str = "cpu", no_isolation: bool = False,
        address: str | None = None, on_start=None):
    """Yield a SubmissionResult per (student, path), in completion order (see the module's
    docstring). `on_start(student, worker_pid)` is called as each attempt is handed to a
    worker (tests use it to kill that worker)."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    from autograder.notebook import NotebookError, read_submitted_file
    from autograder.sandbox import NO_ISOLATION_WARNING, IsolationUnavailable

    submissions = [(student, Path(path)) for student, path in submissions]
    if not submissions:
        return
    if no_isolation:
        print(NO_ISOLATION_WARNING, file=sys.stderr)
    connected = connect(address)
    need = "GPU" if device == "cuda" else "CPU"
    if ray.cluster_resources().get(need, 0) < 1:
        if connected:
            ray.shutdown()
        from autograder.backends import BackendUnavailable
        raise BackendUnavailable(f"--backend ray --device {device}: the Ray cluster has no {need} to grade on")
    actor_class = _actor_class(device)
    todo = deque(range(len(submissions)))
    deaths = [0] * len(submissions)
    starting: dict = {}  # ready ref -> actor
    idle: list = []  # (actor, pid)
    running: dict = {}  # grade ref -> (submission index, actor, pid)
    alive: list = []
    failed_starts = 0
    finished = False

    def start_worker():
        actor = actor_class.remote(assignment.id, device, no_isolation)
        alive.append(actor)
        starting[actor.ready.remote()] = actor

    def drop(actor):
        if actor in alive:
            alive.remove(actor)
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)

    try:
        for _ in range(max(1, min(int(workers), MAX_WORKERS, len(submissions)))):
            start_worker()
        while todo or running:
            while todo and idle:
                index = todo.popleft()
                student, path = submissions[index]
                try:
                    data = read_submitted_file(path)
                except NotebookError as exc:
                    yield _invalid(assignment, student, path, str(exc))
                    continue
                actor, pid = idle.pop()
                running[actor.grade.remote(student, str(path), data)] = (index, actor, pid)
                if on_start:
                    on_start(student, pid)
            if not (running or starting):
                if todo:  # every worker died and none is starting: start one
                    start_worker()
                continue
            done, _ = ray.wait([*running, *starting], num_returns=1)
            ref = done[0]
            if ref in starting:
                actor = starting.pop(ref)
                try:
                    info = ray.get(ref)
                except RayError as exc:
                    drop(actor)
                    failed_starts += 1
                    if failed_starts > 2 * len(submissions) + 2:
                        raise RuntimeError(f"Ray grading workers do not start: {_cause(exc)}") from None
                    if todo or running:
                        start_worker()
                    continue
                if info["error"]:
                    raise IsolationUnavailable(info["error"])
                idle.append((actor, info["pid"]))
                continue
            index, actor, pid = running.pop(ref)
            student, path = submissions[index]
            try:
                result = ray.get(ref)
            except RayTaskError as exc:  # the worker's own code raised: a grader bug, not recorded
                idle.append((actor, pid))
                yield _failed(assignment, student, path, _cause(exc.cause or exc))
                continue
            except RayError as exc:  # the worker process (or its node) died mid-submission
                drop(actor)
                deaths[index] += 1
                print(f"  {student}: the Ray worker grading it died ({_cause(exc)}); "
                      f"{'recorded as crashed' if deaths[index] >= MAX_DEATHS else 'grading it again'}",
                      file=sys.stderr)
                if deaths[index] >= MAX_DEATHS:
                    yield _lost(assignment, student, path, deaths[index], type(exc).__name__)
                else:
                    todo.appendleft(index)
                if todo or running:
                    start_worker()
                continue
            idle.append((actor, pid))
            yield result
        finished = True
    finally:
        if finished:  # let the workers stop their zygotes; on Ctrl-C or an error, kill them now
            closing = [actor.close.remote() for actor, _ in idle]
            with contextlib.suppress(Exception):
                ray.wait(closing, num_returns=len(closing), timeout=CLOSE_TIMEOUT_S)
        for actor in list(alive):
            drop(actor)
        if connected:
            ray.shutdown()
