"""The exam-room tool, for students on the (offline, CPU) lab machines.

Run it in a terminal from the exam folder, the one holding the notebook:

    python -m assignments.lab check-machine          is this machine ready? (Python, torch, data)
    python -m assignments.lab start --student ID     start your exam clock (once; shows the time left)
    python -m assignments.lab status                 the time left
    python -m assignments.lab check [EXERCISE ...]   run the visible checks (all, or e.g. `check 3 7`)
    python -m assignments.lab submit                 hand in: copy the saved notebook for the proctor

`check` runs, in a separate Python process with a time limit, the notebook's code cells that the
chosen visible checks need (the setup cells that define what they use, the exercise itself and
any cell of yours it calls; `check` alone runs every cell), then the checks, and prints PASS or
FAIL for each: it reads the notebook *file*, so save it first. The grader decides the points
with other data and settings; a PASS is a good sign, not a score. `submit` copies the notebook to
`../submission/<student>/<exam>/` with a record (`lab.json`: who started this exam folder, its
start token, the clock, when it was submitted and whether that was late), the folder the
proctor collects; submit as often as you like, the last copy counts. The clock starts once per
exam folder and is never reset; a submission after the time is up is still saved, marked late
with its time, and the proctor sees that when collecting.

Only the standard library is used here (torch only in the checks' process), so the tool also
works on a machine where something is broken, to say what.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

EXAM_DIR = Path(__file__).resolve().parent.parent  # the release folder: notebook + assignments/
EXAM = EXAM_DIR.name  # the assignment id, e.g. "midterm"
STATE_FILE = ".lab_state.json"
DEFAULT_MINUTES = 170  # the week-9 lab slot, 16:10-19:00
SETUP_TIMEOUT_S = 180  # the notebook's own cells, imports included
CHECK_TIMEOUT_S = 90  # one visible check
SKIP_TAG = "skip-grading"
RESULT = "@@lab-result "  # how the checks' process reports, one line per check
RECORD = "lab.json"  # written next to each submitted notebook; `collect` verifies it


# ------------------------------------------------------------------------------ notebook

def notebook_path() -> Path:
    preferred = EXAM_DIR / f"{EXAM}.ipynb"
    if preferred.exists():
        return preferred
    found = sorted(EXAM_DIR.glob("*.ipynb"))
    if not found:
        sys.exit(f"no notebook (.ipynb) in {EXAM_DIR}: run this from the exam folder")
    return found[0]


def read_cells(path: Path) -> tuple[list[tuple[int, str]], dict[str, str]]:
    """([(cell number, code) of each cell that runs before the checks], {check id: code of its
    visible check}). As for the grader: every code cell but the checks and `skip-grading` ones."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.exit(f"{path.name} cannot be read as a notebook ({exc}); is it saved completely?")
    program, checks = [], {}
    for number, cell in enumerate(nb.get("cells", []), 1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        meta = cell.get("metadata", {})
        grading = meta.get("nbgrader", {}) or {}
        if grading.get("grade") and not grading.get("solution"):
            checks[grading.get("grade_id", f"check{len(checks) + 1}")] = source
        elif SKIP_TAG not in meta.get("tags", []):
            program.append((number, source))
    return program, checks


def _names(source: str) -> tuple[set[str], set[str]] | None:
    """(names a cell binds at its top level, names it reads anywhere), or None if it does not
    parse (such a cell always runs, so that its error is reported)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return None
    bound, used = set(), set()

    def bind(statements):
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            else:
                targets = []
                if isinstance(node, (ast.Assign,)):
                    targets = node.targets
                elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                    targets = [node.target]
                elif isinstance(node, (ast.For, ast.AsyncFor)):
                    targets = [node.target]
                elif isinstance(node, (ast.With, ast.AsyncWith)):
                    targets = [item.optional_vars for item in node.items if item.optional_vars]
                for target in targets:
                    bound.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
                for field in ("body", "orelse", "finalbody"):
                    bind(getattr(node, field, []) or [])
                for handler in getattr(node, "handlers", []) or []:
                    bind(handler.body)

    bind(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.NamedExpr):
            bound.add(node.target.id)
    return bound, used


def needed(program: list[tuple[int, str]], check_sources: list[str]) -> list[tuple[int, str]]:
    """The cells of `program` that the checks need: those binding a name the checks read, and,
    in turn, those binding a name such a cell reads. Cells that do not parse always run."""
    facts = [_names(source) for _, source in program]
    wanted = set()
    for source in check_sources:
        found = _names(source)
        wanted |= found[1] if found else set()
    chosen = {i for i, f in enumerate(facts) if f is None}
    changed = True
    while changed:
        changed = False
        for i in range(len(program) - 1, -1, -1):
            if i in chosen or not (facts[i][0] & wanted):
                continue
            chosen.add(i)
            wanted |= facts[i][1]
            changed = True
    return [cell for i, cell in enumerate(program) if i in chosen]


def choose(requested: list[str], available: list[str]) -> list[str]:
    """`3`, `ex3`, `concepts` (every concept group) or a full check id -> check ids."""
    if not requested:
        return available
    chosen = []
    for word in requested:
        word = word.strip().lower()
        hits = [c for c in available if c == word or c == f"ex{word}" or c.startswith(word + "_")]
        if not hits:
            sys.exit(f"no check called {word!r}; the checks are: {', '.join(available)}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


# ------------------------------------------------------------------------------ the clock

def load_state() -> dict:
    try:
        return json.loads((EXAM_DIR / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def save_state(state: dict) -> None:
    (EXAM_DIR / STATE_FILE).write_text(json.dumps(state, indent=1))


def time_left(state: dict, now: float | None = None) -> str:
    if not state.get("started"):
        return "the exam clock has not been started (python -m assignments.lab start --student ID)"
    now = time.time() if now is None else now
    end = state["started"] + 60 * state["minutes"]
    left = end - now
    ends = datetime.fromtimestamp(end).strftime("%H:%M")
    if left <= 0:
        return f"time is up: the exam ended at {ends}, {int(-left // 60)} min ago; submit now"
    return f"time left: {int(left // 3600)}:{int(left % 3600 // 60):02d} (ends at {ends})"


def cmd_start(args) -> int:
    """Start the exam clock of this folder, once. A started clock is never reset or lengthened
    (not by --force, not by --minutes): a new student needs a fresh copy of the exam folder."""
    state = load_state()
    if state.get("started"):
        if state.get("student") != args.student:
            print(f"this exam folder was started by {state['student']} at "
                  f"{datetime.fromtimestamp(state['started']):%H:%M}; its clock is never restarted. "
                  f"{args.student} needs a fresh copy of the exam folder (ask the proctor)")
            return 1
        note = ""
        if args.minutes != state["minutes"] or args.force:
            note = f" (the clock of a started exam is never changed: still {state['minutes']} minutes)"
        print(f"already started for {args.student} at {datetime.fromtimestamp(state['started']):%H:%M}{note}")
    else:
        state = {"student": args.student, "started": time.time(), "minutes": args.minutes,
                 "token": secrets.token_hex(16)}
        save_state(state)
        print(f"exam started for {args.student} at {datetime.now():%H:%M}, {args.minutes} minutes")
    print(time_left(state))
    return 0


def cmd_status(args) -> int:
    state = load_state()
    if state.get("student"):
        print(f"student {state['student']}")
    if state.get("submitted"):
        print(f"last submitted at {datetime.fromtimestamp(state['submitted']):%H:%M:%S}")
    print(time_left(state))
    return 0


# ------------------------------------------------------------------------------ machine

def cmd_check_machine(args) -> int:
    problems = []

    def report(ok: bool, what: str):
        print(("ok       " if ok else "PROBLEM  ") + what)
        if not ok:
            problems.append(what)

    report(sys.version_info >= (3, 10), f"Python {platform.python_version()} (3.10 or newer needed)")
    probe = ("import torch, time; t = time.perf_counter(); x = torch.randn(64, 64, requires_grad=True); "
             "(x @ x).relu().sum().backward(); "
             "print(torch.__version__, torch.get_num_threads(), torch.cuda.is_available(), "
             "round(time.perf_counter() - t, 3))")
    done = _run_python(["-c", probe], timeout=120)
    if done is None or done.returncode != 0:
        report(False, "torch does not import or run: " + (_last_line(done.stderr) if done else "timed out"))
    else:
        version, threads, cuda, _ = done.stdout.split()
        report(True, f"torch {version} runs on the CPU ({threads} threads); a GPU is "
                     f"{'present but not needed' if cuda == 'True' else 'not needed'}")
    data = ("from assignments.data import load_digits8x8, load_review_tokenizer, load_rotten_tomatoes; "
            "X, y = load_digits8x8(); t, l, m = load_rotten_tomatoes(); "
            "print(len(X), len(t), load_review_tokenizer().vocab_size)")
    done = _run_python(["-c", data], timeout=120)
    if done is None or done.returncode != 0:
        report(False, "the exam data does not load: " + (_last_line(done.stderr) if done else "timed out"))
    else:
        digits, reviews, vocab = done.stdout.split()
        report(True, f"data: {digits} digit images, {reviews} movie reviews, a {vocab}-token "
                     f"pretrained tokenizer (offline)")
    path = EXAM_DIR / f"{EXAM}.ipynb"
    report(path.exists(), f"the exam notebook {path.name} is in {EXAM_DIR}")
    target = submission_root()
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe_file = target / ".write-test"
        probe_file.write_text("ok")
        probe_file.unlink()
        report(True, f"submissions can be saved under {target}")
    except OSError as exc:
        report(False, f"cannot write to {target} ({exc.strerror}): tell the proctor")
    print("this machine is ready" if not problems else f"{len(problems)} problem(s): tell the proctor")
    return 1 if problems else 0


def _run_python(args, timeout):
    try:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=EXAM_DIR, env=_child_env())
    except subprocess.TimeoutExpired:
        return None


def _child_env() -> dict:
    env = dict(os.environ, MPLBACKEND="Agg", HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    env["PYTHONPATH"] = str(EXAM_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


# ------------------------------------------------------------------------------ checks

def run_checks(path: Path, names: list[str], every_cell: bool = True) -> int:
    """The checks' process: run the notebook's cells (all, or those the named checks need),
    then each named check; report each."""
    import contextlib
    import io
    import traceback

    program, checks = read_cells(path)
    total = len(program)
    if not every_cell:
        program = needed(program, [checks[name] for name in names])
    namespace = {"__name__": "__main__"}
    os.chdir(path.parent)
    errors = []
    for number, source in program:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(compile(_python(source), f"<cell {number}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - one broken cell must not stop the others
            errors.append(f"cell {number} failed: {_describe(exc)}")
    print(RESULT + json.dumps({"ready": True, "cell_errors": errors, "ran": len(program), "cells": total}),
          flush=True)
    for name in names:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(compile(checks[name], f"<check {name}>", "exec"), namespace)
            result = {"check": name, "ok": True, "message": ""}
        except AssertionError as exc:
            result = {"check": name, "ok": False, "message": str(exc) or "the check failed"}
        except BaseException as exc:  # noqa: BLE001
            where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
            result = {"check": name, "ok": False, "message": _describe(exc) + (
                f" (raised in your code, {where[-1].filename.strip('<>')} line {where[-1].lineno})" if where else "")}
        result["output"] = out.getvalue()[-2000:]
        print(RESULT + json.dumps(result), flush=True)
    return 0


def _python(source: str) -> str:
    """IPython-only lines (%magic, !shell) mean nothing outside Jupyter: skip them (as the
    grader does; this package cannot import the grader, which never ships)."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def cmd_check(args) -> int:
    path = notebook_path()
    _, checks = read_cells(path)
    remaining = choose(args.exercises, list(checks))
    results, started = {}, time.monotonic()
    while remaining:
        # One process runs the notebook's cells, then the checks in turn; one that hangs or
        # kills it costs that check, and the others run again in a fresh process.
        only = [] if not args.exercises else ["--only-needed"]
        child = subprocess.Popen([sys.executable, "-m", "assignments.lab", "_run", str(path), *only, *remaining],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=EXAM_DIR,
                                 env=_child_env(), encoding="utf-8", errors="replace")
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(child.stdout, lines), daemon=True).start()
        said, ready = [], False  # said: what it printed besides results, the reason if it dies
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while remaining:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = "" if time.monotonic() < deadline else "timeout"
            if line == "timeout" and not ready:  # a cell of the notebook itself never ends
                why = f"the notebook's own cells did not finish within {SETUP_TIMEOUT_S} s (an endless loop?)"
                results.update({name: {"ok": False, "message": why} for name in remaining})
                print(f"{'all':18s} FAIL  {why}")
                remaining = []
            elif line is None or line == "timeout":
                current = remaining.pop(0)
                why = (f"no result within {args.timeout} s (an endless loop, or far too slow?)" if line
                       else f"the check's process ended: {_last_line(chr(10).join(said[-5:]))}")
                results[current] = {"ok": False, "message": why}
                _show(current, results[current])
                break
            elif line.startswith(RESULT):
                result = json.loads(line[len(RESULT):])
                deadline = time.monotonic() + args.timeout
                if result.get("ready"):
                    ready = True
                    if not results:
                        if result.get("ran", 0) < result.get("cells", 0):
                            print(f"ran the {result['ran']} of {result['cells']} code cells that "
                                  f"{'this check needs' if len(remaining) == 1 else 'these checks need'}")
                        for error in result["cell_errors"]:
                            print(f"note: {error}")
                    continue
                name = result.pop("check")
                results[name] = result
                remaining.remove(name)
                _show(name, result, verbose=args.verbose)
            elif line:
                said = said[-20:] + [line]
        child.kill()
        child.wait()
    passed = sum(r["ok"] for r in results.values())
    print(f"{passed} of {len(results)} visible checks pass ({time.monotonic() - started:.0f} s). "
          f"{time_left(load_state())}")
    return 0 if passed == len(results) else 1


def _show(name: str, result: dict, verbose: bool = False) -> None:
    print(f"{name:18s} {'PASS' if result['ok'] else 'FAIL'}" + ("" if result["ok"] else f"  {result['message']}"))
    output = [line for line in result.get("output", "").splitlines() if line.strip()]
    if output and (verbose or not result["ok"]):
        for line in output[-6:]:
            print(f"{'':18s}   | {line[:150]}")


# ------------------------------------------------------------------------------ submit

def submission_root() -> Path:
    return EXAM_DIR.parent / "submission"


def cmd_submit(args) -> int:
    state = load_state()
    student = state.get("student")
    if not state.get("started") or not state.get("token"):
        print("this exam folder has not been started: run `python -m assignments.lab start --student ID` "
              "first (the proctor accepts only submissions made by a started exam folder)")
        return 1
    if args.student and args.student != student:
        print(f"this exam folder was started by {student}: it can only submit for {student}")
        return 1
    source = notebook_path()
    try:
        data = source.read_bytes()
        json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        print(f"{source.name} is not a complete notebook file: save it in Jupyter and submit again")
        return 1
    now = time.time()
    end = state["started"] + 60 * state["minutes"]
    target = Path(args.to or submission_root()) / student / EXAM / f"{EXAM}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"student": student, "exam": EXAM, "token": state["token"], "started": state["started"],
              "minutes": state["minutes"], "submitted": now, "late": now > end,
              "late_by_s": max(0.0, round(now - end, 1)), "sha256": hashlib.sha256(data).hexdigest()}
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    (target.parent / RECORD).write_text(json.dumps(record, indent=1))
    state.update(submitted=now)
    save_state(state)
    print(f"submitted {source.name} for {student} at {datetime.fromtimestamp(now):%H:%M:%S}")
    if record["late"]:
        print(f"LATE: the exam ended at {datetime.fromtimestamp(end):%H:%M}; this submission is recorded as "
              f"{int(record['late_by_s'] // 60)} min {int(record['late_by_s'] % 60)} s late, and the proctor sees it")
    print(f"saved as {target}")
    print(time_left(state))
    return 0


# ------------------------------------------------------------------------------ main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assignments.lab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{check-machine,start,status,check,submit}")
    sub.add_parser("check-machine", help="is this machine ready for the exam?").set_defaults(fn=cmd_check_machine)
    p = sub.add_parser("start", help="start the exam clock")
    p.add_argument("--student", required=True, help="your student id")
    p.add_argument("--minutes", type=int, default=DEFAULT_MINUTES, help="length of the exam")
    p.add_argument("--force", action="store_true", help="accepted, but a started clock is never reset")
    p.set_defaults(fn=cmd_start)
    sub.add_parser("status", help="the time left").set_defaults(fn=cmd_status)
    p = sub.add_parser("check", help="run the visible checks of some exercises, or of all")
    p.add_argument("exercises", nargs="*", help="e.g. 3, ex3, concepts (default: all)")
    p.add_argument("--timeout", type=int, default=CHECK_TIMEOUT_S, help="seconds per check")
    p.add_argument("--verbose", "-v", action="store_true", help="also show what passing checks print")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("submit", help="hand in the saved notebook")
    p.add_argument("--student", help="must be the one given to start (the default)")
    p.add_argument("--to", help="the submission folder (default: ../submission next to this folder)")
    p.set_defaults(fn=cmd_submit)
    p = sub.add_parser("_run")  # internal: the checks' process
    p.add_argument("notebook")
    p.add_argument("--only-needed", action="store_true")
    p.add_argument("names", nargs="+")
    p.set_defaults(fn=lambda a: run_checks(Path(a.notebook), a.names, every_cell=not a.only_needed))
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
