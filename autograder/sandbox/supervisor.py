"""The grader's side of one run: drive the student's process, trust nothing it says.

The supervisor asks for one thing at a time (run this cell, run this check) and accepts only
the reply it asked for, within a deadline on its own clock: per cell, for all the cells
together, per check, per submission. Anything else on the channel (a frame before the
request, a second reply, a reply to a request never made, bytes that do not parse) ends the
run as a protocol violation: the checks not yet answered score zero and the submission is
flagged as suspicious with the reason. It watches the private memory of every process in the
student's PID namespace and, at the end, kills that namespace's first process, which takes
every other process of the run with it (and, as root, every process of the slot's uid).

A cell that hangs, exhausts memory or kills the process is skipped and the notebook loaded
again without it (up to MAX_SKIPPED_CELLS); a check that does so scores zero and the checks
still to run get a fresh process.
"""
from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass, field

from autograder.probe import Failed
from autograder.sandbox import protocol
from autograder.sandbox.zygote import Zygote, ZygoteError, read_message

GRACE_S = 2.0  # the supervisor waits this much past the child's own alarm before it kills
START_S = 60.0  # from fork to "ready": the hidden suite's imports and building the sandbox
MAX_SKIPPED_CELLS = 3
MAX_RECEIVED = 256 * 2**20  # bytes one process may send the supervisor in all
WATCH_EVERY_S = 0.25


@dataclass
class RunReport:
    cell_errors: list = field(default_factory=list)  # (cell label, question, message)
    load_failure: str | None = None  # the code never finished loading: why
    probes: dict = field(default_factory=dict)  # name -> data | Failed
    wall_seconds: dict = field(default_factory=dict)  # name -> duration seen by the supervisor
    notes: list = field(default_factory=list)  # what the supervisor had to do (kills, restarts)
    suspicious: list = field(default_factory=list)  # what the student's process did that code should not
    grader_error: str | None = None  # the sandbox itself failed before any student code ran
    seconds: float = 0.0


class _Stop(Exception):
    """This process is done for: why (for the student)."""


# ------------------------------------------------------------------------- processes

def processes_of_uid(uid: int) -> list[int]:
    """Live processes of `uid` (zombies are dead already)."""
    return [pid for pid, st in _proc_entries() if st == uid]


def _proc_entries():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                st = os.stat(f"/proc/{entry}").st_uid
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                yield int(entry), st


def processes_in_namespace(init_pid: int) -> list[int]:
    """Live processes of the PID namespace whose first process is `init_pid` (host pids)."""
    try:
        ns = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    found = []
    for pid, _ in _proc_entries():
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") == ns:
                found.append(pid)
        except OSError:
            pass
    return found


def private_mb(pids) -> float:
    """Memory the processes own: pages inherited from the zygote and not written since the
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


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_uid(uid: int) -> None:
    for _ in range(100):
        left = processes_of_uid(uid)
        if not left:
            return
        for p in left:
            _kill(p)
        time.sleep(0.01)


def exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"crashed the process ({name})"
    return f"ended the process (exit code {os.WEXITSTATUS(status)}: os._exit, or a crash)"


# ------------------------------------------------------------------------- one process

class _Process:
    """One student process: the channel to it, its pids, and the deadlines' bookkeeping."""

    def __init__(self, zygote: Zygote, job: dict, memory_mb: int, uid: int | None):
        self.pid, self.chan, self.status = zygote.start(job)
        self.chan.setblocking(False)
        self.reader = protocol.FrameReader()
        self.pending: list[dict] = []
        self.init_pid = self.pid if job["mode"] == "none" else None
        self.memory_mb, self.uid = memory_mb, uid
        self.next_watch = 0.0
        self.seq = 0
        self.received = 0
        self.end_status: int | None = None

    def request(self, message: dict) -> int:
        self.seq += 1
        data = protocol.pack({**message, "seq": self.seq})
        self.chan.setblocking(True)
        try:
            self.chan.settimeout(10)
            self.chan.sendall(data)
        except OSError:
            raise _Stop(self._death()) from None
        finally:
            self.chan.setblocking(False)
        return self.seq

    def wait_for(self, event: str, deadline: float, seq: int | None = None) -> dict:
        """The next frame, which must be `event` (with `seq`); _Stop at the deadline, on a
        death, on memory; protocol.Violation on anything else."""
        while True:
            if self.pending:
                frame = self.pending.pop(0)
                return self._check(frame, event, seq)
            now = time.monotonic()
            if now >= deadline:
                raise _Stop("deadline")
            ready, _, _ = select.select([self.chan], [], [], min(WATCH_EVERY_S, deadline - now))
            self._watch_memory()
            if not ready:
                continue
            try:
                chunk = self.chan.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise _Stop(self._death())
            self.received += len(chunk)
            if self.received > MAX_RECEIVED:
                raise protocol.Violation(f"more than {MAX_RECEIVED // 2**20} MB sent to the grader")
            self.pending += self.reader.feed(chunk)
            if self.reader.error and not self.pending:
                raise protocol.Violation(self.reader.error)

    def _check(self, frame: dict, event: str, seq) -> dict:
        kind = frame.get("event")
        if kind == "init" and self.init_pid is None and isinstance(frame.get("pid"), int):
            self.init_pid = frame["pid"]
            return self.wait_for(event, time.monotonic() + START_S, seq) if event != "init" else frame
        if kind == "ended":
            self.end_status = frame.get("status") if isinstance(frame.get("status"), int) else None
            raise _Stop(self._death())
        if kind == "setup_failed" and event == "ready":  # before any student code: the grader's own words
            self.close()
            raise _Stop(f"setting it up failed: {protocol.clean_text(frame.get('why'), 300)}")
        if kind != event or (seq is not None and frame.get("seq") != seq):
            raise protocol.Violation(f"an unexpected message ({protocol.clean_text(kind, 40)!r} "
                                     f"while the grader waited for {event!r})")
        return frame

    def _watch_memory(self) -> None:
        now = time.monotonic()
        if not self.memory_mb or now < self.next_watch or self.init_pid is None:
            return
        self.next_watch = now + WATCH_EVERY_S
        pids = processes_in_namespace(self.init_pid) if self.init_pid != self.pid else [self.pid]
        if private_mb(pids) > self.memory_mb:
            raise _Stop(f"used more than {self.memory_mb} MB of memory")

    def _death(self) -> str:
        if self.end_status is None:
            self.close()
        return exit_reason(self.end_status) if self.end_status is not None else "ended the process"

    def close(self) -> None:
        if self.init_pid is not None:
            _kill(self.init_pid)  # the first process of the PID namespace: all go with it
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _kill(self.pid)
        if self.uid is not None:
            kill_uid(self.uid)
        if self.status is not None:
            try:
                self.status.settimeout(10)
                status = read_message(self.status).get("status")
                if self.end_status is None and self.init_pid == self.pid:
                    self.end_status = status
            except (OSError, ValueError):
                pass
            self.status.close()
            self.status = None
        self.chan.close()


# ------------------------------------------------------------------------- one run

def run(zygote: Zygote, job: dict, cells, names, timeouts: dict, limits: dict,
        uid: int | None) -> RunReport:
    """Run the cells (`notebook.Cell`s whose `run` is set), then the probes `names`.

    `job`: what the zygote needs to fork the student's process (see child.main);
    `limits`: load_timeout_s, load_total_s, submission_timeout_s, memory_mb (watchdog)."""
    from autograder.notebook import python_source

    report = RunReport()
    started = time.monotonic()
    final_deadline = started + limits["submission_timeout_s"]
    remaining = list(names)
    skipped: set[str] = set()
    question_of = {c.label: c.question for c in cells}
    attempts_left = len(names) + MAX_SKIPPED_CELLS + 2  # a submission that keeps dying cannot keep the grader busy

    def note_cell(label, question, message):
        if (label, question, message) not in report.cell_errors:
            report.cell_errors.append((label, question, message))

    while remaining and attempts_left > 0:
        attempts_left -= 1
        stage, current, cell_label, why = "starting", None, None, None
        try:
            proc = _Process(zygote, job, limits["memory_mb"], uid)
        except ZygoteError as exc:  # the grader's own failure (its zygote gone): never a student's grade
            report.grader_error = f"the grader could not start a process for this submission ({exc})"
            break
        try:
            deadline = min(final_deadline, time.monotonic() + START_S)
            proc.wait_for("ready", deadline)
            stage = "loading"
            load_deadline = min(final_deadline, time.monotonic() + limits["load_total_s"])
            for cell in cells:
                if not cell.run or cell.label in skipped:
                    continue
                cell_label = cell.label
                seq = proc.request({"op": "cell", "label": cell.label, "source": python_source(cell.source)})
                deadline = min(load_deadline, time.monotonic() + limits["load_timeout_s"])
                reply = proc.wait_for("cell_done", deadline, seq)
                if reply.get("error") is not None:
                    note_cell(cell.label, cell.question, protocol.clean_text(reply["error"], 600))
            stage, cell_label = "probing", None
            while remaining:
                current = remaining[0]
                timeout = timeouts.get(current, limits["check_timeout_s"])
                t0 = time.monotonic()
                seq = proc.request({"op": "probe", "name": current, "timeout": timeout})
                reply = proc.wait_for("result", min(final_deadline, t0 + timeout + GRACE_S), seq)
                if reply.get("name") != current:
                    raise protocol.Violation("a reply for another check")
                report.probes[current] = protocol.decode_value(reply.get("data"))
                report.wall_seconds[current] = time.monotonic() - t0
                remaining.pop(0)
                current = None
        except protocol.Violation as exc:
            why = f"your code interfered with the grader's channel ({exc})"
            report.suspicious.append(why)
            for name in remaining:
                report.probes[name] = Failed(f"not checked: {why}")
            remaining = []
            if stage != "probing":
                report.load_failure = why
        except protocol.WireError as exc:
            why = f"the grader could not read your process's results ({exc})"
        except _Stop as stop:
            why = str(stop)
        finally:
            proc.close()
        if not remaining:
            break
        out_of_time = time.monotonic() >= final_deadline
        if why == "deadline":
            if out_of_time:
                why = f"the submission used up its {limits['submission_timeout_s']:.0f} s time limit"
            elif stage == "probing":
                why = (f"this check took longer than {timeouts.get(current, limits['check_timeout_s']):.0f} s "
                       f"(an infinite loop, or far too slow?); the grader stopped it")
            elif stage == "loading" and time.monotonic() >= load_deadline - 0.05:
                why = (f"did not finish: all your code cells together may run for "
                       f"{limits['load_total_s']:.0f} s while grading")
            else:
                why = f"did not finish within {limits['load_timeout_s']:.0f} s (an infinite loop?)"
        if stage == "starting":  # no student code has run yet: the grader's own failure
            report.grader_error = f"the sandbox did not start ({why})"
            for name in remaining:
                report.probes[name] = Failed(f"not checked: {report.grader_error}")
            remaining = []
            break
        if stage == "loading" and cell_label and len(skipped) < MAX_SKIPPED_CELLS and not out_of_time:
            skipped.add(cell_label)
            note_cell(cell_label, question_of.get(cell_label),
                      f"this cell {why}; the grader skipped it and ran the rest of your notebook")
            continue
        if stage != "probing":
            report.load_failure = (f"{cell_label or 'the setup'} {why}" if "time limit" not in why else why)
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
                                             f"{limits['submission_timeout_s']:.0f} s time limit")
            remaining = []
    for name in names:  # a probe that never reported is a failure, never a pass
        report.probes.setdefault(name, Failed("this check produced no result"))
    report.seconds = time.monotonic() - started
    return report
