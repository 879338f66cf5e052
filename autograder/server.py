"""The warm grader: a grading service that outlives one command.

    python -m autograder serve [--workers 2] [--warm hw1_backprop ...]      (one terminal)
    python -m autograder grade hw1_backprop submitted/ --server              (any other)

Each plain `grade` starts its graders: the judge's interpreter imports torch and pytest (about
2 s of CPU), the student zygote the assignment's libraries, the recording nbgrader and
SQLAlchemy (about 1 s). A course that grades all day (a regrade here, a late submission there,
a batch at deadline time) pays that on every command. `serve` pays it once: it keeps each
assignment's `grading.Grader` (both zygotes) and the open gradebook, and grades and records
what `grade --server` hands it, with the same sandbox, limits and judge as `grade` alone, so
the results are the same. The command sends paths and prints what comes back.

The service is the coordinator of those batches: it alone records, one submission at a time,
as each result arrives, and streams the stored result back. Two commands at once share its
`--workers` student slots (each slot is one sandboxed student process, with its own uid).

The channel: a Unix socket in `<gradebook>/.server/` (a 0700 folder; the key beside the
socket, 0600), Python's `multiprocessing.connection` with that key (its HMAC handshake comes
before anything is read) and JSON messages only: nothing is unpickled. Students never reach it:
their processes see neither the gradebook folder nor the host's sockets.

The code it grades with is the code it started with: a command from a checkout whose grading
code differs (`code_fingerprint`) is refused and told to restart the service.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

import course_config as cfg

MAX_MESSAGE = 64 * 2**20
FINGERPRINTED = ("autograder", "assignments", "calibration")  # with course_config.py
VERSIONED = ("torch", "torchvision", "numpy", "pytest", "nbgrader", "transformers")
ANSWER_S = 30  # a ping or stop answered within this, or the service is called stuck
HANDSHAKE_S = 10  # a connection that does not prove the key within this is dropped
STOP_WAIT_S = 60  # on stop, batches in progress get this long to finish the submission they grade
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")  # a login name (or COURSE_GRADER)


class ServerUnavailable(RuntimeError):
    """No warm grader answers for this gradebook, or it cannot take this request."""


def folder() -> Path:
    return cfg.GRADEBOOK_DIR / ".server"


def code_fingerprint() -> str:
    """What the service grades with: every file of the grading code (the hidden suites and
    their pytest.ini included), the course's configuration and calibration, the assignment
    modules the student zygotes import, and the versions of Python and of the libraries that
    judge."""
    from importlib import metadata

    digest = hashlib.sha256(sys.version.encode())
    for package in VERSIONED:
        try:
            digest.update(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            pass
    files = [cfg.ROOT / "course_config.py"]
    for top in FINGERPRINTED:
        files += sorted(p for p in (cfg.ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(cfg.ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _send(conn, message: dict) -> None:
    conn.send_bytes(json.dumps(message, ensure_ascii=False).encode("utf-8", "replace"))


def _receive(conn) -> dict:
    message = json.loads(conn.recv_bytes(MAX_MESSAGE))
    if not isinstance(message, dict):
        raise ValueError("not a message")
    return message


# ------------------------------------------------------------------------------ the client

def connect():
    """A connection to this gradebook's warm grader, or ServerUnavailable saying why not."""
    from multiprocessing.connection import AuthenticationError, Client

    socket, keyfile = folder() / "socket", folder() / "key"
    start = "start one with `python -m autograder serve` (see the README, 'The warm grader')"
    if not socket.exists():
        raise ServerUnavailable(f"no warm grader is running for the gradebook {cfg.GRADEBOOK_DIR}: {start}")
    try:
        return Client(str(socket), family="AF_UNIX", authkey=keyfile.read_bytes())
    except (ConnectionRefusedError, FileNotFoundError):
        raise ServerUnavailable(f"the warm grader of {cfg.GRADEBOOK_DIR} is not running any more: {start}") from None
    except (AuthenticationError, PermissionError, OSError) as exc:
        raise ServerUnavailable(f"cannot talk to the warm grader in {folder()}: {exc}") from None


def ask(request: dict) -> dict:
    """One request, one answer (ping, stop)."""
    with connect() as conn:
        _send(conn, request)
        if not conn.poll(ANSWER_S):
            raise ServerUnavailable(f"the warm grader in {folder()} did not answer within {ANSWER_S} s")
        return _receive(conn)


def _user_name(name) -> str:
    """The command's user as its request names it, for the history log: a name, never markup."""
    if isinstance(name, str) and USER_NAME.fullmatch(name):
        return name
    return "unknown"


def grade(assignment, submissions, workers: int = 2, device: str = "cpu", no_isolation: bool = False,
          progress: bool = True, on_warning=None) -> list:
    """Have the warm grader grade and record `submissions` ((student, path) pairs); return the
    results as it stored them, in completion order. `on_warning(line)`: a submission that could
    not be recorded. The service goes on with the batch if this command is interrupted only
    until it next tries to send; what it recorded stays."""
    from autograder.course import history
    from autograder.results import SubmissionResult

    # absolute, but not resolved: the service refuses a link as `grade` does, so it must see it
    submissions = [(student, os.path.abspath(path)) for student, path in submissions]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(submissions), desc=f"grading {assignment.id} (warm grader)", unit="sub",
                   file=sys.stderr)
    results = []
    try:
        with connect() as conn:
            _send(conn, {"op": "grade", "fingerprint": code_fingerprint(), "assignment": assignment.id,
                         "device": device, "no_isolation": no_isolation, "workers": workers,
                         "submissions": submissions, "who": history.who()})
            while True:
                try:
                    message = _receive(conn)
                except (EOFError, OSError):
                    raise ServerUnavailable(f"the warm grader stopped in the middle of this batch; "
                                            f"{len(results)} of {len(submissions)} results came back (those "
                                            f"are recorded): run the command again") from None
                if message["event"] == "error":
                    raise ServerUnavailable(message["message"])
                if message["event"] == "done":
                    return results
                results.append(SubmissionResult.from_dict(message["result"]))
                if message.get("warning") and on_warning:
                    on_warning(message["warning"])
                if bar:
                    bar.update(1)
    finally:
        if bar:
            bar.close()


# ------------------------------------------------------------------------------ the service

class Service:
    """The warm graders (one per assignment and device) and the gradebook."""

    def __init__(self, workers: int, key: bytes, grader_idle_s: float = 0.0):
        self.key = key  # `workers`: at most sandbox.MAX_SLOTS (checked by `serve`'s command line)
        self.fingerprint = code_fingerprint()
        self.workers = workers
        self.slots: queue.Queue = queue.Queue()
        for slot in range(workers):
            self.slots.put(slot)
        self.graders: dict = {}
        self.graders_lock = threading.Lock()
        # A grader no batch has used for grader_idle_s is closed (its two zygotes end), except
        # those `--warm` named: a semester's five assignments need not all stay in memory.
        self.grader_idle_s = grader_idle_s
        self.in_use: dict = {}  # (assignment, device) -> batches using that grader now
        self.last_used: dict = {}
        self.pinned: set = set()
        self.record_lock = threading.Lock()
        self.recorder = None
        self.stopping = threading.Event()
        self.requests: set = set()  # the threads of batches in progress
        self.requests_lock = threading.Lock()
        self.last_request = time.monotonic()

    @property
    def busy(self) -> int:
        with self.requests_lock:
            return len(self.requests)

    def grader(self, assignment, device: str):
        from autograder.grading import Grader
        key = (assignment.id, device)
        with self.graders_lock:
            if self.stopping.is_set():
                raise ServerUnavailable("the warm grader is stopping")
            grader = self.graders.get(key)
            if grader is not None and not grader.alive():  # a zygote died (killed by hand, out of memory)
                threading.Thread(target=grader.close, daemon=True).start()
                grader = None
            if grader is None:
                grader = self.graders[key] = Grader(assignment, device)
            self.last_used[key] = time.monotonic()
            return grader

    def acquire(self, assignment, device: str):
        """The grader of (assignment, device) for one batch, never closed as idle until `release`."""
        key = (assignment.id, device)
        with self.graders_lock:
            self.in_use[key] = self.in_use.get(key, 0) + 1
        try:
            return self.grader(assignment, device)
        except BaseException:
            self.release(assignment, device)
            raise

    def release(self, assignment, device: str) -> None:
        key = (assignment.id, device)
        with self.graders_lock:
            self.in_use[key] -= 1
            self.last_used[key] = time.monotonic()

    def close_idle_graders(self) -> list:
        """Close the graders unused for grader_idle_s (not the pinned ones); their keys."""
        if self.grader_idle_s <= 0:
            return []
        now, idle = time.monotonic(), []
        with self.graders_lock:
            for key in list(self.graders):
                if (key not in self.pinned and not self.in_use.get(key)
                        and now - self.last_used.get(key, now) > self.grader_idle_s):
                    idle.append((key, self.graders.pop(key)))
        for _, grader in idle:
            grader.close()
        return [key for key, _ in idle]

    def _store(self, result, by: str | None = None) -> str | None:
        """Record one result (None) or say why not; never raises. `by`: the command's user."""
        from autograder import gradebook, recording
        with self.record_lock:
            if self.stopping.is_set():
                return f"{result.student}: NOT recorded: the warm grader was stopped while grading it"
            try:
                if self.recorder is None:
                    self.recorder = gradebook.Recorder()
                return recording.store(self.recorder, result, by)
            except Exception as exc:  # noqa: BLE001 - opening the gradebook failed (locked, gone)
                return f"{result.student}: NOT recorded ({type(exc).__name__}: {exc}); the stored grade is unchanged"

    def _close_gradebook(self) -> None:
        """The next result opens the gradebook again. Each batch starts so: a file replaced
        meanwhile (a backup restored) is then the one written, never a connection to the old one."""
        with self.record_lock:
            if self.recorder is not None:
                self.recorder.close()
                self.recorder = None

    def warm(self, assignment_id: str) -> None:
        """Start the assignment's zygotes and have the gradebook know it, before any request."""
        from autograder import gradebook
        self.pinned.add((assignment_id, "cpu"))
        self.grader(cfg.ASSIGNMENTS[assignment_id], "cpu").timeouts()
        gradebook.ensure_assignment(assignment_id)

    def stop(self) -> None:
        """No new submission starts or is recorded; batches in progress get STOP_WAIT_S to finish
        the submission each is grading (its result is not recorded); then the zygotes end."""
        self.stopping.set()
        deadline = time.monotonic() + STOP_WAIT_S
        with self.requests_lock:
            requests = list(self.requests)
        for thread in requests:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self.graders_lock:
            graders, self.graders = list(self.graders.values()), {}
        for grader in graders:
            grader.close()
        self._close_gradebook()

    def handle(self, conn) -> None:
        from multiprocessing.connection import AuthenticationError, answer_challenge, deliver_challenge

        with conn:
            try:  # the key first, in this thread: a silent or vanished client holds up nobody else
                deliver_challenge(conn, self.key)
                answer_challenge(conn, self.key)
                if not conn.poll(HANDSHAKE_S):
                    return
                request = _receive(conn)
            except (AuthenticationError, EOFError, OSError, ValueError):
                return
            op = request.get("op")
            try:
                if op == "ping":
                    _send(conn, {"event": "pong", "fingerprint": self.fingerprint, "pid": os.getpid(),
                                 "workers": self.workers, "busy": self.busy,
                                 "warm": sorted({k[0] for k in self.graders})})
                elif op == "stop":
                    _send(conn, {"event": "stopping", "pid": os.getpid()})
                    os.kill(os.getpid(), signal.SIGTERM)
                elif op == "grade":
                    with self.requests_lock:
                        self.requests.add(threading.current_thread())
                    try:
                        self._grade(conn, request)
                    finally:
                        with self.requests_lock:
                            self.requests.discard(threading.current_thread())
                        self.last_request = time.monotonic()
                else:
                    _send(conn, {"event": "error", "message": f"unknown request {op!r}"})
            except (OSError, EOFError):
                pass  # the command went away; what was recorded stays
            except Exception as exc:  # noqa: BLE001 - one bad request must not end the service
                with contextlib.suppress(OSError, EOFError):
                    _send(conn, {"event": "error", "message": f"the warm grader failed: {type(exc).__name__}: {exc}"})

    def _refusal(self, request: dict) -> str | None:
        from autograder.grading import STUDENT_ID

        if request.get("fingerprint") != self.fingerprint:
            return ("the warm grader runs other grading code than this checkout (it was changed or updated "
                    "since `serve` started): stop it (Ctrl-C, or `python -m autograder serve --stop`) and "
                    "start it again; nothing was graded")
        if code_fingerprint() != self.fingerprint:
            return ("the grading code on disk changed since `serve` started, so its graders would mix old and "
                    "new code: stop it (`python -m autograder serve --stop`) and start it again; nothing was graded")
        if request.get("assignment") not in cfg.ASSIGNMENTS:
            return f"unknown assignment {request.get('assignment')!r}"
        if request.get("device", "cpu") not in cfg.DEVICE_PROFILES:
            return f"unknown device profile {request.get('device')!r}"
        if request.get("no_isolation"):
            return "the warm grader always grades with isolation: grade without --server to use --no-isolation"
        submissions = request.get("submissions")
        if not isinstance(submissions, list) or not all(
                isinstance(x, list) and len(x) == 2 and all(isinstance(v, str) for v in x)
                and STUDENT_ID.fullmatch(x[0]) and os.path.isabs(x[1]) for x in submissions):
            return "a malformed list of submissions"
        return None

    def _grade(self, conn, request: dict) -> None:
        from autograder.sandbox import IsolationUnavailable

        refusal = self._refusal(request)
        if refusal:
            _send(conn, {"event": "error", "message": refusal})
            return
        assignment, device = cfg.ASSIGNMENTS[request["assignment"]], request.get("device", "cpu")
        try:
            grader = self.acquire(assignment, device)
        except (IsolationUnavailable, ServerUnavailable) as exc:
            _send(conn, {"event": "error", "message": str(exc)})
            return
        try:
            self._grade_batch(conn, request, grader)
        finally:
            self.release(assignment, device)

    def _grade_batch(self, conn, request: dict, grader) -> None:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        self._close_gradebook()
        submissions = [(student, Path(path)) for student, path in request["submissions"]]
        workers = max(1, min(int(request.get("workers", 1)), self.workers, len(submissions) or 1))
        by = _user_name(request.get("who"))  # the history log's "who": the command's user

        def task(student, path):
            slot = self.slots.get()  # a student slot no other request is using now
            try:
                if self.stopping.is_set():
                    return None
                return grader.grade(path, student, slot)
            finally:
                self.slots.put(slot)

        with ThreadPoolExecutor(workers, thread_name_prefix="serve-grade") as pool:
            futures = [pool.submit(task, student, path) for student, path in submissions]
            try:
                for future in as_completed(futures):
                    result = future.result()
                    if result is None or self.stopping.is_set():
                        break
                    warning = self._store(result, by)
                    _send(conn, {"event": "result", "result": result.to_dict(), "warning": warning})
            finally:
                for future in futures:
                    future.cancel()
        if not self.stopping.is_set():
            _send(conn, {"event": "done"})


def serve(workers: int = 2, warm=(), idle_exit_s: float = 3600.0, log=print,
          grader_idle_s: float = 1800.0) -> int:
    """Run the service in this process until Ctrl-C, SIGTERM, `serve --stop` or `idle_exit_s`
    without a request. A grader unused for `grader_idle_s` (0: never) is closed, except the
    `warm` ones; the next request for it starts it again."""
    from multiprocessing.connection import Listener

    from autograder.sandbox import IsolationUnavailable

    # As `grade --device cuda` does: the zygotes (and the students' processes they fork) must
    # find a usable CUDA, so nothing before them may initialise it; NVML answers instead.
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    here = folder()
    try:
        pong = ask({"op": "ping"})
        log(f"a warm grader is already running for {cfg.GRADEBOOK_DIR} (pid {pong.get('pid')})")
        return 2
    except (ServerUnavailable, EOFError, OSError, ValueError):
        pass
    here.mkdir(parents=True, exist_ok=True)
    os.chmod(here, 0o700)
    socket, keyfile = here / "socket", here / "key"
    for stale in (socket, keyfile):
        stale.unlink(missing_ok=True)
    key = secrets.token_bytes(32)
    service = Service(workers, key, grader_idle_s)
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    listener = Listener(str(socket), family="AF_UNIX")  # the key is checked per connection, in its thread
    os.chmod(socket, 0o600)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)

    def idle_watch():
        periods = [p for p in (idle_exit_s, grader_idle_s) if p > 0]
        while True:
            time.sleep(min(30.0, max(min(periods) / 4, 0.5)))
            for assignment_id, device in service.close_idle_graders():
                log(f"{assignment_id} ({device}): unused for {grader_idle_s:g} s, its grader closed")
            if idle_exit_s > 0 and not service.busy and time.monotonic() - service.last_request > idle_exit_s:
                log(f"no request for {idle_exit_s:g} s: stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return

    try:
        try:
            for assignment_id in warm:
                service.warm(assignment_id)
        except IsolationUnavailable as exc:
            log(str(exc))
            return 2
        log(f"warm grader ready: {workers} student slots, code {service.fingerprint}, gradebook "
            f"{cfg.GRADEBOOK_DIR}, warm: {', '.join(warm) or 'none yet'} (pid {os.getpid()}; Ctrl-C stops it)")
        if idle_exit_s > 0 or grader_idle_s > 0:
            threading.Thread(target=idle_watch, name="idle-watch", daemon=True).start()
        while True:
            try:
                conn = listener.accept()
            except OSError:
                continue  # a client that vanished while connecting
            threading.Thread(target=service.handle, args=(conn,), name="serve-request", daemon=True).start()
    except KeyboardInterrupt:
        log("warm grader: stopping (batches in progress finish the submission they grade; it is not recorded)")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop at a time
        listener.close()
        for path in (socket, keyfile):
            path.unlink(missing_ok=True)
        service.stop()
    return 0
