"""The trust boundary: where a student's code runs, and what crosses back.

    zygote.py      a fresh interpreter that imports libraries only and forks one process per run
    child.py       the student's process: leaves the host, answers one request at a time
    mounts.py      namespaces and the allow-list file system (root, or an unprivileged user namespace)
    protocol.py    bounded, sanitized frames; anything not asked for is a violation
    supervisor.py  the grader's side of one run: deadlines, memory, kills, retries

`Sandbox` is the one entry point: it owns a student zygote for an assignment and runs one
submission's cells and probes in a fresh isolated process per run. Nothing in this package
reads a hidden test's expected value or writes a grade.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

SLOT_UID_BASE = 1 << 20  # above every uid a system hands out (nobody is 65534)
MODES = ("root", "user", "none")


MAX_SLOTS = 16  # grading slots (student processes at once) one grading process can give a uid of its own


def slot_uid(slot: int) -> int:
    """The unprivileged uid a root grading run gives grading slot `slot` (one per worker)."""
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"grading slot {slot} out of range (at most {MAX_SLOTS} at once)")
    return SLOT_UID_BASE + (os.getpid() % (1 << 22)) * MAX_SLOTS + slot  # 2**22: Linux's largest pid_max


class IsolationUnavailable(RuntimeError):
    pass


NO_ISOLATION_WARNING = (
    "warning: --no-isolation: each student's code runs as you, with your files and your network: "
    "it can read the hidden tests, the solutions and other students' submissions, change the "
    "gradebook and leave processes behind. Only deadlines and resource limits still apply.")


def choose_mode(no_isolation: bool = False) -> str:
    """"root" (namespaces and a uid per slot), "user" (an unprivileged user namespace), or
    "none" only when asked for; IsolationUnavailable otherwise."""
    from autograder.sandbox import mounts

    if no_isolation:
        return "none"
    why = mounts.probe_support()  # as root too: a container may forbid namespaces (seccomp)
    if why is None:
        return "root" if os.geteuid() == 0 else "user"
    raise IsolationUnavailable(
        f"refusing to run student code: {why}, so it could not be isolated (this needs root, or "
        f"unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 / "
        f"user.max_user_namespaces > 0). Grade as root or in a container, or pass --no-isolation "
        f"to run it as you, unprotected.")


@dataclass(frozen=True)
class Policy:
    """Limits and isolation for one run (built from course_config.LIMITS and a device profile)."""

    load_timeout_s: float
    load_total_s: float
    check_timeout_s: float
    submission_timeout_s: float
    memory_mb: int
    memory_cap: str  # "rlimit" (address space) or "watchdog" (private memory, CUDA-safe)
    output_kb: int
    max_processes: int
    device: str = "cpu"  # the device profile probes run on (see autograder.probe.grading_device)
    scratch_mb: int = 512  # size of the private /tmp and /dev/shm the student's code may write to
    visible: tuple[str, ...] = ()  # host paths the student's process sees, read-only
    masked: dict = field(default_factory=dict)  # package dir -> __init__.py text (forbidden)
    hidden_files: tuple[str, ...] = ()  # files that read as empty (a held-out set's public copy)
    env: dict = field(default_factory=dict)  # the student's process's whole environment


class Sandbox:
    """Runs submissions of one assignment; one student zygote, started once."""

    def __init__(self, suite: str, warm_imports, policy: Policy, mode: str, suite_path: str | None = None):
        from autograder.sandbox.zygote import Zygote

        if mode not in MODES:
            raise ValueError(mode)
        self.suite, self.suite_path, self.policy, self.mode = suite, suite_path, policy, mode
        self.zygote = Zygote("student", ["autograder.probe", *warm_imports],
                             env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})

    def slot_uid(self, slot: int) -> int | None:
        return slot_uid(slot) if self.mode == "root" else None

    def run(self, cells, names, timeouts: dict, slot: int = 0, policy: Policy | None = None):
        """A `supervisor.RunReport` for this run (`policy`: this run's own, if not the default)."""
        from autograder.sandbox import supervisor

        uid = self.slot_uid(slot)
        policy = policy or self.policy
        new_root = tempfile.mkdtemp(prefix="grade-")
        try:
            if self.mode == "none":
                os.chmod(new_root, 0o700)
            job = {"mode": self.mode, "uid": uid, "suite": self.suite, "suite_path": self.suite_path,
                   "new_root": new_root, "env": dict(policy.env),
                   "policy": {k: v for k, v in asdict(policy).items() if k != "env"}}
            job["policy"]["visible"] = list(policy.visible)
            job["policy"]["hidden_files"] = list(policy.hidden_files)
            limits = {k: getattr(policy, k) for k in ("load_timeout_s", "load_total_s", "check_timeout_s",
                                                       "submission_timeout_s")}
            limits["memory_mb"] = policy.memory_mb
            return supervisor.run(self.zygote, job, cells, names, timeouts, limits, uid)
        finally:
            shutil.rmtree(new_root, ignore_errors=True)

    def close(self) -> None:
        self.zygote.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def package_files(relative_paths) -> tuple[str, ...]:
    """"package/inner/file" -> the absolute path of that file in the installed package."""
    import importlib.util

    found = []
    for relative in relative_paths:
        top, _, rest = relative.partition("/")
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(location, rest).resolve()
            if path.is_file():
                found.append(str(path))
    return tuple(found)


def masked_packages(modules, assignment_title: str) -> dict:
    """package directory -> the text of the `__init__.py` that replaces it in the sandbox."""
    import importlib.util

    masked = {}
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        text = (f"raise ImportError({name!r} + ' is not allowed in ' + {assignment_title!r} + "
                f"': the assignment asks you to write this part yourself (see the first cell of the notebook)')\n")
        for location in spec.submodule_search_locations:
            masked[str(Path(location).resolve())] = text
    return masked
