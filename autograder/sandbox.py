"""Run a submission's code in a process of its own, and collect what its probes return.

One submission, one child process, forked from a grader process that has numpy/torch
imported already (so a submission does not pay for `import torch`). The child:

- starts its own session, so the whole process group can be killed;
- imports the hidden suite's probes, *then* hides the course from itself: in a private mount
  namespace the hidden suites, sources, gradebook and submissions become empty directories
  and the course root becomes read-only, and in a private network namespace there is no
  network (both need root; see `isolation_warning`);
- caps its address space, file sizes, processes and core dumps (setrlimit), drops to an
  unprivileged uid of its own (one per grading slot), and works in a scratch directory;
- runs the notebook's code cells, then each probe under a per-check alarm, and sends every
  result to the parent as it is produced (`autograder.wire`).

The parent trusts nothing the child says about time or success: it enforces the load,
per-check and per-submission deadlines on its own clock, watches the resident memory of
everything running under the slot's uid, kills the group and every process left under that
uid, and restarts the child for the checks still to run when one check hangs or crashes it.
A check that produced no result scores zero with the reason; nothing is ever assumed passed.
"""
from __future__ import annotations

import ctypes
import importlib
import os
import resource
import select
import signal
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import wire
from autograder.notebook import Cell, python_source
from autograder.probe import Failed, Submission, describe_exception, probes_of

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2

GRACE_S = 2.0  # the parent waits this much past the child's own alarm before it kills
SLOT_UID_BASE = 61000


@dataclass(frozen=True)
class Policy:
    """Limits and isolation for one run (built from course_config.LIMITS and a device profile)."""

    load_timeout_s: float
    check_timeout_s: float
    submission_timeout_s: float
    memory_mb: int
    memory_cap: str  # "rlimit" or "watchdog"
    output_kb: int
    max_processes: int
    device: str = "cpu"  # the device profile probes run on (see autograder.probe.grading_device)
    scratch_mb: int = 512  # size of the private /tmp the student's code may write to
    hide: tuple[Path, ...] = ()  # directories the student's code must not see
    readonly: tuple[Path, ...] = ()  # directories it must not change
    visible: tuple[Path, ...] = ()  # what must stay reachable: Python, the course, data


def isolation_warning() -> str | None:
    """What the current process cannot enforce: namespaces and the uid drop need root."""
    if os.geteuid() == 0:
        return None
    return ("warning: not running as root: the student's code runs as your user, can read course "
            "files and reach the network; grade as root (or in a container) for full isolation")


@dataclass
class RunReport:
    cell_errors: list = field(default_factory=list)  # (cell label, question, message)
    load_failure: str | None = None  # the code never finished loading: why
    probes: dict = field(default_factory=dict)  # name -> data | Failed
    wall_seconds: dict = field(default_factory=dict)  # name -> duration seen by the parent
    notes: list = field(default_factory=list)  # what the parent had to do (kills, restarts)
    seconds: float = 0.0


# ----------------------------------------------------------------------------- child side

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


def _libc_call(name, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), f"{name} failed")


def _closed_ancestor(path: Path) -> Path | None:
    """The outermost directory on the way to `path` that other users cannot enter."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent
    return None


def _outermost(paths) -> list[Path]:
    paths = sorted(set(paths))
    return [p for p in paths if not any(q in p.parents for q in paths)]


def _cover(top: Path, options: str, keep) -> None:
    """Mount a fresh tmpfs over `top`, then bind back the paths of `keep` that lie under it
    (through O_PATH descriptors opened before they were covered)."""
    inside = [p for p in _outermost(keep) if top in p.parents]
    if any(p == top for p in keep):
        return  # everything under it is needed
    held = [(p, os.open(p, os.O_PATH)) for p in inside]
    _libc_call("mount", b"tmpfs", str(top).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode())
    for path, fd in held:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        _libc_call("mount", f"/proc/self/fd/{fd}".encode(), str(path).encode(), None, MS_BIND | MS_REC, None)
        os.close(fd)


def _isolate(policy: Policy, scratch: Path, uid: int | None) -> None:
    if uid is not None:  # root: private mounts and network, then drop privileges
        _libc_call("unshare", CLONE_NEWNS | CLONE_NEWNET)
        _libc_call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
        visible = [p for p in policy.visible if p.exists()]
        # The world-writable places get fresh, private tmpfs mounts that vanish with the
        # run: the scratch directory lives in the new /tmp, and nothing written there, or in
        # /var/tmp or /dev/shm, reaches the machine (a course checked out under /tmp stays).
        for shared in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(shared):
                _cover(Path(shared), f"size={policy.scratch_mb}m,mode=1777", visible)
        # Python (or the course) may live where only root can go (pyenv under a 0700 /root):
        # cover that directory and bind back only what must be reachable.
        for closed in sorted({c for c in map(_closed_ancestor, visible) if c is not None}):
            _cover(closed, "size=64k,mode=755", visible)
        for path in policy.readonly:
            p = str(path).encode()
            _libc_call("mount", p, p, None, MS_BIND | MS_REC, None)
            _libc_call("mount", b"none", p, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
        for path in policy.hide:
            if path.is_dir():
                _libc_call("mount", b"tmpfs", str(path).encode(), b"tmpfs",
                           MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k,mode=755")
        os.makedirs(scratch, exist_ok=True)
        os.chown(scratch, uid, uid)
        os.chmod(scratch, 0o700)
    os.chdir(scratch)
    if policy.memory_cap == "rlimit":
        mapped = _vm_size_bytes()
        cap = mapped + policy.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    if uid is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (policy.max_processes, policy.max_processes))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.environ.update(HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch),
                      MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                      HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1", COURSE_GRADING_DEVICE=policy.device, CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", ""))


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _silence_output(limit_kb: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = sys.stderr = _BoundedWriter(limit_kb * 1024)
    sys.stdin = open(os.devnull)


def _child_main(fd, cells, suite, names, policy, scratch, uid):
    def send(message):
        wire.write_frame(fd, message)

    def on_alarm(signum, frame):
        raise _CheckTimeout()

    module = importlib.import_module(suite)  # before the suites are hidden
    probes = probes_of(module)
    _isolate(policy, scratch, uid)
    _silence_output(policy.output_kb)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    signal.signal(signal.SIGALRM, on_alarm)
    send({"event": "ready"})

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    for cell in cells:
        send({"event": "cell", "label": cell.label})
        try:
            code = compile(python_source(cell.source), f"<{cell.label}>", "exec")
        except SyntaxError as exc:
            send({"event": "cell_error", "label": cell.label, "question": cell.question,
                  "message": f"SyntaxError: {exc.msg} (line {exc.lineno}); this cell was skipped"})
            continue
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - SystemExit included: keep going
            send({"event": "cell_error", "label": cell.label, "question": cell.question,
                  "message": describe_exception(exc)})
    send({"event": "loaded"})

    submission = Submission(namespace)
    for name in names:
        timeout = probes[name]._autograder_probe["timeout"] or policy.check_timeout_s
        send({"event": "probe", "name": name})
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            data = probes[name](submission)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except _CheckTimeout:
            data = Failed(f"this check took longer than {timeout:.0f} s (an infinite loop, or far too slow?)")
        except BaseException as exc:  # noqa: BLE001
            signal.setitimer(signal.ITIMER_REAL, 0)
            data = Failed(describe_exception(exc))
        try:
            encoded = wire.encode_value(data)
        except (wire.WireError, TypeError, ValueError) as exc:
            encoded = wire.encode_value(Failed(f"your code returned something that is not a number or array ({exc})"))
        send({"event": "result", "name": name, "data": encoded})
    send({"event": "done"})


# ---------------------------------------------------------------------------- parent side

def processes_of(uid: int) -> list[int]:
    """Live processes of `uid` (zombies are dead already and only wait for init to reap them)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    pids.append(int(entry))
            except (OSError, IndexError):
                pass
    return pids


def _private_mb(pids) -> float:
    """Memory the processes own: pages inherited from the grader and not written since the
    fork are shared with it and do not count against the submission."""
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total_kb += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total_kb / 1024


def kill_all(pid: int, uid: int | None) -> None:
    """Kill the child's process group and, when it ran under its own uid, every process of
    that uid (a grandchild that started a new session escapes the group, not the uid)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is None:
        return
    for _ in range(100):
        left = processes_of(uid)
        if not left:
            return
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def _spawn(cells, suite, names, policy, scratch, uid):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_fd)
            # Nothing the grader has open (gradebook, logs, pytest's capture files) may be
            # reachable from the student's code: keep only the result pipe.
            os.closerange(3, write_fd)
            os.closerange(write_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            os.setsid()
            _child_main(write_fd, cells, suite, names, policy, scratch, uid)
        except BaseException:  # noqa: BLE001 - whatever happens, never return into the grader
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return pid, read_fd


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"crashed the process ({name})"
    return f"ended the process (exit code {os.WEXITSTATUS(status)}: os._exit, or a crash)"


MAX_SKIPPED_CELLS = 3


def run(cells: list[Cell], suite: str, names: list[str], timeouts: dict, policy: Policy,
        scratch: Path, uid: int | None) -> RunReport:
    """Run `cells` and then the probes `names` of module `suite`; see the module docstring.

    A cell that hangs, exhausts memory or ends the process while the notebook loads is
    skipped and the notebook loaded again without it (up to MAX_SKIPPED_CELLS cells), so it
    costs the questions that need it, not the whole submission."""
    report = RunReport()
    started = time.monotonic()
    final_deadline = started + policy.submission_timeout_s
    remaining = list(names)
    skipped: set[str] = set()
    question_of = {c.label: c.question for c in cells}
    attempts_left = len(names) + MAX_SKIPPED_CELLS + 2  # a submission that keeps dying cannot keep the grader busy

    def note_cell(label, question, message):
        if (label, question, message) not in report.cell_errors:
            report.cell_errors.append((label, question, message))

    while remaining and attempts_left > 0:
        attempts_left -= 1
        runnable = [c for c in cells if c.run and c.label not in skipped]
        pid, fd = _spawn(runnable, suite, remaining, policy, scratch, uid)
        reader = wire.FrameReader()
        stage, current, cell_label, probe_started = "starting", None, None, 0.0
        deadline = time.monotonic() + policy.load_timeout_s + 10  # imports before "ready"
        why = None
        finished = False
        try:
            while True:
                now = time.monotonic()
                limit = min(deadline, final_deadline)
                if now >= limit:
                    if now >= final_deadline:
                        why = f"the submission used up its {policy.submission_timeout_s:.0f} s time limit"
                    elif stage == "probing":
                        why = (f"this check took longer than {timeouts.get(current, policy.check_timeout_s):.0f} s "
                               f"(an infinite loop, or far too slow?); the grader stopped it")
                    else:
                        why = f"did not finish within {policy.load_timeout_s:.0f} s (an infinite loop?)"
                    break
                ready, _, _ = select.select([fd], [], [], min(0.2, limit - now))
                if uid is not None and policy.memory_mb:
                    used = _private_mb(processes_of(uid))
                    if used > policy.memory_mb:
                        why = f"used more than {policy.memory_mb} MB of memory"
                        break
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    break  # the child ended
                for msg in reader.feed(chunk):
                    event = msg.get("event")
                    if event == "ready":
                        deadline = time.monotonic() + policy.load_timeout_s
                        stage = "loading"
                    elif event == "cell" and stage == "loading":
                        cell_label = str(msg.get("label"))[:40]
                        deadline = time.monotonic() + policy.load_timeout_s  # per cell
                    elif event == "cell_error" and stage == "loading":
                        label = str(msg.get("label"))[:40]
                        note_cell(label, question_of.get(label), str(msg.get("message"))[:500])
                    elif event == "loaded":
                        stage = "probing"
                    elif event == "probe" and msg.get("name") in remaining:
                        current, probe_started = msg["name"], time.monotonic()
                        deadline = time.monotonic() + timeouts.get(current, policy.check_timeout_s) + GRACE_S
                    elif event == "result" and msg.get("name") == current:
                        report.probes[current] = wire.decode_value(msg.get("data"))
                        report.wall_seconds[current] = time.monotonic() - probe_started
                        remaining.remove(current)
                        current = None
                    elif event == "done":
                        finished = True
                if reader.error:
                    why = f"the grader could not read your process's results ({reader.error})"
                    break
                if finished:
                    break
        except wire.WireError as exc:  # a result that does not decode
            why = f"the grader could not read your process's results ({exc})"
        finally:
            kill_all(pid, uid)
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        if finished:
            break
        why = why or _exit_reason(status)
        out_of_time = time.monotonic() >= final_deadline
        if stage == "loading" and cell_label and len(skipped) < MAX_SKIPPED_CELLS and not out_of_time:
            skipped.add(cell_label)
            note_cell(cell_label, question_of.get(cell_label),
                      f"this cell {why}; the grader skipped it and ran the rest of your notebook")
            continue
        if stage != "probing":
            report.load_failure = f"{cell_label or 'the setup'} {why}" if "time limit" not in why else why
            for name in remaining:
                report.probes[name] = Failed(f"not checked: {report.load_failure}")
            remaining = []
        elif current is not None:
            report.probes[current] = Failed(why)
            report.notes.append(f"{current}: {why}; the remaining checks were run again in a fresh process")
            remaining.remove(current)
        else:
            report.notes.append(f"{why} between checks; the remaining checks were run again")
        if out_of_time:
            for name in remaining:
                report.probes[name] = Failed(f"not checked: the submission used up its "
                                             f"{policy.submission_timeout_s:.0f} s time limit")
            remaining = []
    for name in names:  # a probe that never reported is a failure, never a pass
        report.probes.setdefault(name, Failed("this check produced no result"))
    report.seconds = time.monotonic() - started
    return report
