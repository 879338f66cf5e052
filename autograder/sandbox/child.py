"""The student's side of the trust boundary: one process per run, forked from the zygote.

It imports the hidden suite's probes (inputs only: no expected value, no label, no answer key
lives there), then leaves the host behind (`mounts`), drops privileges and caps its
resources, says "ready", and from then on only answers: the grader sends one request at a
time (a cell to run, a check to run) and this process sends one reply. What it holds came
from the zygote (libraries) and from the grader's requests (this student's own cells).
"""
from __future__ import annotations

import importlib
import os
import resource
import signal
import sys

from autograder.probe import Failed, Submission, describe_exception, probes_of
from autograder.sandbox import mounts, protocol


class _CheckTimeout(BaseException):
    pass


class _BoundedWriter:
    """sys.stdout/sys.stderr for student code: keeps the first `limit` characters, drops the rest."""

    def __init__(self, limit):
        self.limit, self.kept = limit, 0
        self.encoding, self.errors = "utf-8", "replace"

    def write(self, text):
        self.kept = min(self.limit, self.kept + len(text))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("no file descriptor")


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _count_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return count


def _limit_resources(policy: dict, mode: str) -> None:
    if policy["memory_cap"] == "rlimit":
        cap = _vm_size_bytes() + policy["memory_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    if mode == "user":  # the uid is the instructor's own: allow what runs already, plus the cap
        n = _count_processes(os.getuid()) + policy["max_processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def _drop_privileges(mode: str, uid: int | None, policy: dict) -> None:
    if mode == "root":
        resource.setrlimit(resource.RLIMIT_NPROC, (policy["max_processes"], policy["max_processes"]))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    elif mode == "user":
        mounts.drop_capabilities_unprivileged()


def _silence_output(limit_kb: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = sys.stderr = _BoundedWriter(limit_kb * 1024)
    sys.stdin = open(os.devnull)


def _enter_pid_namespace(chan: int) -> None:
    """Fork the namespace's first process; this one stays outside as its waiter: it tells
    the grader that process's pid (before any student code runs) and, at the end, how it ended."""
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.read(go_r, 1)
        os.close(go_r)
        return
    os.close(go_r)
    code = 0
    try:
        protocol.write_frame(chan, {"event": "init", "pid": pid})
        os.write(go_w, b"g")
        _, status = os.waitpid(pid, 0)
        protocol.write_frame(chan, {"event": "ended", "status": status})
    except BaseException:  # noqa: BLE001 - the grader reads the end from the closed channel
        code = 1
    finally:
        os._exit(code)


def main(job: dict, chan: int) -> None:
    """Run in a fresh child of the zygote; never returns (the zygote's child calls os._exit)."""
    policy, mode = job["policy"], job["mode"]
    try:  # no student code has run yet: a failure here is the grader's, and it says which
        os.setsid()
        if job.get("suite_path"):
            sys.path.insert(0, job["suite_path"])
        if mode != "none":
            mounts.enter_namespaces(as_root=(mode == "root"))
            _enter_pid_namespace(chan)
        suite = importlib.import_module(job["suite"])  # before the suites are out of sight
        probes = probes_of(suite)
        if hasattr(suite, "prepare"):  # reads what the probes need of files the student may not see
            suite.prepare()
        if mode != "none":
            mounts.build_root(job["new_root"], policy["visible"], policy["masked"], policy["scratch_mb"],
                              policy.get("hidden_files", ()))
        _drop_privileges(mode, job.get("uid"), policy)
        _limit_resources(policy, mode)
        scratch = "/tmp" if mode != "none" else job["new_root"]
        os.chdir(scratch)
        os.environ.clear()
        os.environ.update(job["env"], HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=scratch)
        _silence_output(policy["output_kb"])
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
    except BaseException as exc:
        protocol.write_frame(chan, {"event": "setup_failed", "why": protocol.clean_text(
            f"{type(exc).__name__}: {exc}", 300)})
        raise
    serve(chan, probes, policy)


def serve(chan: int, probes: dict, policy: dict) -> None:
    """Answer the grader's requests, one reply each, until it says goodbye or kills us."""

    def on_alarm(signum, frame):
        raise _CheckTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    send = (lambda message: protocol.write_frame(chan, message))
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    submission = Submission(namespace)
    send({"event": "ready"})
    while True:
        request = protocol.read_frame_blocking(chan)
        op = request.get("op")
        if op == "cell":
            send({"event": "cell_done", "seq": request["seq"], "error": _run_cell(request, namespace)})
        elif op == "probe":
            name = request["name"]
            data = _run_probe(probes[name], submission, request["timeout"])
            try:
                encoded = protocol.encode_value(data)
            except (protocol.WireError, TypeError, ValueError) as exc:
                encoded = protocol.encode_value(
                    Failed(f"your code returned something that is not a number or array ({exc})"))
            send({"event": "result", "seq": request["seq"], "name": name, "data": encoded})
        else:
            os._exit(0)


def _run_cell(request: dict, namespace: dict) -> str | None:
    label = request["label"]
    try:
        code = compile(request["source"], f"<{label}>", "exec")
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno}); this cell was skipped"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: this cell could not be compiled; it was skipped"
    try:
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: keep going
        return describe_exception(exc)
    return None


def _run_probe(fn, submission: Submission, timeout: float):
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        data = fn(submission)
        signal.setitimer(signal.ITIMER_REAL, 0)
        return data
    except _CheckTimeout:
        return Failed(f"this check took longer than {timeout:.0f} s (an infinite loop, or far too slow?)")
    except BaseException as exc:  # noqa: BLE001
        signal.setitimer(signal.ITIMER_REAL, 0)
        return Failed(describe_exception(exc))
