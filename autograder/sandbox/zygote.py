"""A fork server: a fresh interpreter that imports libraries once and forks a process per job.

    python -m autograder.sandbox.zygote ROLE MODULE...      (started by `Zygote`, never by hand)

Two roles, two zygotes, started from nothing (not forked from the grader):

- `student`: imports only the libraries the assignment's students use (its `warm_imports`,
  e.g. numpy, or torch and torchvision) and `autograder.sandbox.child`. It never holds a source
  notebook, a hidden test's expected value, an answer key, a gradebook object or another
  student's code or results, so a student's process forked from it cannot find any of them in
  its own memory.
- `judge`: imports torch and pytest; its children run a hidden suite on the data a student's
  process sent (`autograder.judge.serve`). Trusted; no student code ever runs there.

The grader sends a job as one message on the control socket, with two socket descriptors
attached: `status` (the zygote says there the pid it forked and, later, how it ended) and
`chan` (the job's own conversation with the grader). Each child keeps only `chan`.
"""
from __future__ import annotations

import array
import importlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading

HANDLERS = {"student": "autograder.sandbox.child:main", "judge": "autograder.judge:serve"}
MAX_JOB = 1 << 20


# ------------------------------------------------------------------------ server side

def _send(sock: socket.socket, message: dict) -> None:
    data = json.dumps(message).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def _recv_job(control: socket.socket):
    """(job, [status fd, chan fd]) or None when the grader has gone."""
    fds = array.array("i")
    try:
        msg, ancdata, _, _ = control.recvmsg(MAX_JOB, socket.CMSG_SPACE(2 * fds.itemsize))
    except ConnectionResetError:  # the grader ended without reading our "ready" (it had no job for us)
        return None
    if not msg:
        return None
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return json.loads(msg), list(fds)


def serve(role: str, modules: list[str], control_fd: int) -> None:
    module_name, _, fn_name = HANDLERS[role].partition(":")
    handler = getattr(importlib.import_module(module_name), fn_name)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the job that needs it reports the ImportError in its own words
    if "matplotlib" in sys.modules:
        import matplotlib.pyplot  # noqa: F401  (Agg, set in the environment)
    control = socket.socket(fileno=control_fd)
    # A child's end wakes the loop at once (its grader waits for the status we send when we
    # reap it): SIGCHLD writes a byte to this pipe, which select watches beside the control.
    woken, wake = os.pipe()
    for fd in (woken, wake):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    _send(control, {"ready": True})
    running: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([control, woken], [], [], 1.0)
        if woken in ready:
            while _drain(woken):
                pass
        _reap(running)
        if control not in ready:
            continue
        got = _recv_job(control)
        if got is None:
            break
        job, fds = got
        status_fd, chan_fd = fds
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.closerange(3, chan_fd)
                os.closerange(chan_fd + 1, 1 << 16)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                handler(job, chan_fd)
            except BaseException:  # noqa: BLE001 - never return into the zygote's loop
                code = 70
                if os.environ.get("COURSE_SANDBOX_DEBUG"):
                    import traceback
                    traceback.print_exc()
            finally:
                os._exit(code)
        os.close(chan_fd)
        status = socket.socket(fileno=status_fd)
        _send(status, {"pid": pid})
        running[pid] = status
    for pid in list(running):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap(running, block=True)


def _drain(fd: int) -> bool:
    """Empty the wake-up pipe, a read at a time; True while there may be more."""
    try:
        return len(os.read(fd, 4096)) == 4096
    except BlockingIOError:
        return False


def _reap(running: dict, block: bool = False) -> None:
    for pid in list(running):
        try:
            done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            sock = running.pop(pid)
            try:
                _send(sock, {"status": status})
            except OSError:
                pass
            sock.close()


# ------------------------------------------------------------------------ client side

class ZygoteError(RuntimeError):
    pass


class Zygote:
    """The grader's handle on one zygote process. Thread-safe: many grading threads may
    start jobs through it at once."""

    def __init__(self, role: str, modules, env: dict | None = None, start_timeout: float = 300,
                 cwd: str | None = None):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        environment = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox.zygote", role, *modules], cwd=cwd,
            pass_fds=[child.fileno()], env={**environment, "ZYGOTE_CONTROL_FD": str(child.fileno())},
            stdin=subprocess.DEVNULL, start_new_session=True)
        child.close()
        self.control = parent
        self.role = role
        self.lock = threading.Lock()
        self.start_timeout = start_timeout
        self.ready = False  # the zygote imports while the grader does its own start-up

    def wait_ready(self) -> None:
        with self.lock:
            if self.ready:
                return
            self.control.settimeout(self.start_timeout)
            try:
                hello = self.control.recv(1 << 16)
            except socket.timeout:
                hello = None
            except OSError:
                hello = b""
            finally:
                self.control.settimeout(None)
            if hello is None:
                raise ZygoteError(f"the {self.role} process did not start within {self.start_timeout:.0f} s")
            if not hello:
                raise ZygoteError(f"the {self.role} process failed to start (exit {self.process.poll()})")
            self.ready = True

    def start(self, job: dict):
        """Fork a child for `job`. Returns (pid, chan socket, status socket)."""
        self.wait_ready()
        ours, theirs = socket.socketpair()
        status_ours, status_theirs = socket.socketpair()
        data = json.dumps(job).encode()
        if len(data) > MAX_JOB:
            raise ZygoteError("job description too large")
        try:
            with self.lock:
                self.control.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                               array.array("i", [status_theirs.fileno(), theirs.fileno()]))])
        except OSError as exc:
            raise ZygoteError(f"the {self.role} process is gone ({exc})") from None
        finally:
            theirs.close()
            status_theirs.close()
        status_ours.settimeout(30)
        try:
            reply = read_message(status_ours)
        except (OSError, ValueError) as exc:
            ours.close()
            status_ours.close()
            raise ZygoteError(f"the {self.role} process did not start the job ({exc})") from None
        status_ours.settimeout(None)
        return reply["pid"], ours, status_ours

    def close(self) -> None:
        try:
            self.control.close()
        finally:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def read_message(sock: socket.socket) -> dict:
    """One length-prefixed JSON message from a trusted peer (the zygote)."""
    header = _recv_exactly(sock, 4)
    (size,) = struct.unpack(">I", header)
    return json.loads(_recv_exactly(sock, size))


def _recv_exactly(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader decides when this ends
    serve(sys.argv[1], sys.argv[2:], int(os.environ.pop("ZYGOTE_CONTROL_FD")))
