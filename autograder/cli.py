"""python -m autograder COMMAND ...  (run with --help for the commands)"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import course_config as cfg


def _assignments(ids) -> list[cfg.Assignment]:
    unknown = [i for i in ids if i not in cfg.ASSIGNMENTS]
    if unknown:
        sys.exit(f"unknown assignment(s): {', '.join(unknown)}; known: {', '.join(cfg.ASSIGNMENTS)}")
    return [cfg.ASSIGNMENTS[i] for i in ids] if ids else list(cfg.ASSIGNMENTS.values())


def cmd_release(args) -> int:
    from autograder import release, samples
    for a in _assignments(args.assignments):
        dest = release.generate(a.id)
        written = samples.build(a.id)
        print(f"released {a.id} -> {dest.relative_to(cfg.ROOT)}  ({len(written)} sample submissions rebuilt)")
    return 0


def grade_and_record(assignment, submissions, workers=1, device="cpu", json_path=None, quiet=False,
                     no_isolation=False, backend="local", address=None):
    """Grade, record each result as it arrives, write feedback; return the results. One
    submission that cannot be recorded is reported and the batch goes on. `backend`/`address`:
    where the graders run (`autograder.backends`); the recording happens here, in this process."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder import grading, recording
    from autograder.backends import BackendUnavailable
    from autograder.sandbox import IsolationUnavailable
    results = []
    with ThreadPoolExecutor(1, thread_name_prefix="gradebook") as opener:
        opening = opener.submit(recording.open_recorder, assignment.id)  # off the critical path
        try:
            for result in grading.grade_many(assignment, submissions, workers=workers, device=device,
                                             progress=not quiet, no_isolation=no_isolation, backend=backend,
                                             address=address):
                results.append(result)
                warning = recording.store(opening.result(), result)
                if warning:
                    print(f"  {warning}", file=sys.stderr)
        except (IsolationUnavailable, BackendUnavailable) as exc:
            sys.exit(str(exc))
        finally:
            if opening.done() and not opening.exception():
                opening.result().close()
    return _finish(results, json_path)


def _grade_on_server(assignment, submissions, args):
    """`grade --server`: the warm grader of `serve` grades and records; this prints."""
    from autograder import server
    try:
        results = server.grade(assignment, submissions, workers=args.workers, device=args.device,
                               no_isolation=args.no_isolation,
                               on_warning=lambda line: print(f"  {line}", file=sys.stderr))
    except server.ServerUnavailable as exc:
        _fail(f"grade --server: {exc}")
    return _finish(results, args.json)


def cmd_serve(args) -> int:
    from autograder import server
    if args.stop or args.status:
        try:
            answer = server.ask({"op": "stop" if args.stop else "ping"})
        except (server.ServerUnavailable, EOFError, OSError) as exc:
            _fail(f"serve: {exc}", 1)
        print(f"warm grader (pid {answer.get('pid', '?')}): {answer['event']}"
              + (f"; {answer['workers']} slots, code {answer['fingerprint']}, warm: {', '.join(answer['warm']) or 'none'}"
                 if answer["event"] == "pong" else ""))
        return 0
    from autograder.sandbox import MAX_SLOTS
    if args.workers > MAX_SLOTS:
        _fail(f"serve: --workers {args.workers}: at most {MAX_SLOTS} student slots (each gets a uid of its own)")
    _assignments(args.warm)
    _check_gradebook_writable()
    return server.serve(args.workers, args.warm, args.idle_exit, log=lambda line: print(line, flush=True),
                        grader_idle_s=args.grader_idle)


def _finish(results, json_path):
    results.sort(key=lambda r: r.student)
    if json_path:
        Path(json_path).write_text(json.dumps([_json_summary(r) for r in results], indent=1, ensure_ascii=False))
    return results


def _json_summary(r) -> dict:
    return {"student": r.student, "assignment": r.assignment, "status": r.status, "reason": r.reason,
            "score": r.score, "max_score": r.max_score, "disclosures": r.disclosures,
            "questions": [{"id": q.id, "score": q.score, "max_score": q.max_score, "manual": q.manual,
                           "messages": [f"{c.name}: {c.message}" for c in q.checks if not c.passed] + q.notes}
                          for q in r.questions]}


def cmd_grade(args) -> int:
    from autograder import grading
    assignment = _assignments([args.assignment])[0]
    if args.student or args.question:
        return cmd_regrade(args, assignment)
    if args.server and (args.backend != "local" or args.address):
        _fail("grade: --server hands the batch to the warm grader of `serve`: it does not go with --backend/--address")
    if args.address and args.backend != "ray":
        _fail("grade: --address names a Ray cluster: it goes with --backend ray")
    if args.device == "cuda" and args.backend == "local" and not args.server:  # else the workers' GPUs
        import os

        # Ask NVML, not the CUDA runtime: a process that initialised CUDA cannot hand a usable
        # CUDA to the processes it forks, and every graded submission is forked from this one.
        os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
        import torch
        if not torch.cuda.is_available():
            sys.exit("--device cuda: this machine has no usable CUDA device; grade with --device cpu")
    try:
        submissions = grading.find_submissions(assignment, args.paths)
    except (FileNotFoundError, ValueError) as exc:
        _fail(f"grade: {exc}")
    if not submissions:
        _fail("grade: no submissions found under " + " ".join(args.paths))
    if args.gradescope and len(submissions) != 1:
        _fail("grade: --gradescope writes one results.json: give exactly one submission")
    from autograder.course import roster
    for line in roster.not_on_roster([s for s, _ in submissions]):
        print(line, file=sys.stderr)
    _check_gradebook_writable()
    try:
        if args.server:
            results = _grade_on_server(assignment, submissions, args)
        else:
            results = grade_and_record(assignment, submissions, args.workers, args.device, args.json,
                                       no_isolation=args.no_isolation, backend=args.backend, address=args.address)
    except KeyboardInterrupt:
        from autograder.results import load_stored
        recorded = {r.student for r in load_stored(cfg.RESULTS_DIR, assignment.id)} & {s for s, _ in submissions}
        print(f"\ninterrupted: grading stopped; {len(recorded)} of these {len(submissions)} students have a "
              f"recorded grade (kept as it was stored); run the same command again to grade the rest",
              file=sys.stderr)
        return 130
    if args.gradescope:
        from autograder import gradescope
        print(f"-> {gradescope.write(results[0], args.gradescope)}")
    for r in results:
        extra = f"  ({r.status}: {r.reason})" if r.reason else ""
        print(f"{r.student:32s} {r.score:6g} / {r.max_score:g}{extra}")
    for r in results:
        if r.suspicious:
            print(f"SUSPICIOUS {r.student}: {'; '.join(r.suspicious)}", file=sys.stderr)
    return 1 if any(r.status == "error" for r in results) else 0


def _fail(message: str, code: int = 2):
    """One line for the instructor, and a non-zero exit."""
    print(message, file=sys.stderr)
    raise SystemExit(code)


def _check_gradebook_writable() -> None:
    """Before anything is graded: a gradebook that cannot take the grades stops the run now."""
    folder = cfg.GRADEBOOK_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"grade: cannot create the gradebook folder {folder}: {exc.strerror}")
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if cfg.GRADEBOOK_DB.exists():
            with open(cfg.GRADEBOOK_DB, "r+b"):
                pass
    except OSError as exc:
        _fail(f"grade: the gradebook in {folder} is not writable ({exc.strerror}): grades could not be "
              f"recorded; nothing was graded")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be between 1 and 64, not {value}")
    return value


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("cgu-dl-course")
    except Exception:  # noqa: BLE001 - not installed: a checkout run with PYTHONPATH
        return "unknown (not installed)"


def cmd_export(args) -> int:
    from autograder import gradebook, gradescope
    from autograder.results import load_stored
    for a in _assignments(args.assignments):
        table = gradebook.rows(a.id)
        path = cfg.GRADEBOOK_DIR / f"{a.id}.csv"
        path.write_text(gradebook.to_csv(table))
        print(gradebook.to_text(a.id, table))
        print(f"-> {path}")
        if args.gradescope:
            folder = cfg.GRADEBOOK_DIR / "gradescope" / a.id
            for result in load_stored(cfg.RESULTS_DIR, a.id):
                gradescope.write(result, folder / result.student / "results.json")
            print(f"-> {folder}/<student>/results.json")
        print()
    return 0


def cmd_feedback(args) -> int:
    from autograder import feedback
    for a in _assignments(args.assignments):
        paths = feedback.write_all(a.id)
        print(f"{a.id}: {len(paths)} feedback files under {cfg.FEEDBACK_DIR}")
    return 0


def cmd_validate(args) -> int:
    from autograder import validate
    ok = True
    for a in _assignments(args.assignments):
        ok &= validate.validate(a, workers=args.workers)
    return 0 if ok else 1


def cmd_demo(args) -> int:
    """release everything, grade the shipped samples, print the gradebook."""
    from autograder import grading
    cmd_release(argparse.Namespace(assignments=[]))
    for a in _assignments([]):
        submissions = grading.find_submissions(a, [cfg.SAMPLES_DIR / "submitted"])
        grade_and_record(a, submissions, workers=args.workers)
    cmd_export(argparse.Namespace(assignments=[], gradescope=False))
    print(f"feedback files: {cfg.FEEDBACK_DIR}")
    return 0


def cmd_calibrate(args) -> int:
    """Run the reference solutions on this machine; write calibration/<device>.json."""
    from autograder import calibrate
    path = calibrate.calibrate(args.device, args.assignments)
    print(f"-> {path.relative_to(cfg.ROOT)}: grading on the {args.device} profile reads its thresholds from there")
    return 0


def cmd_lab(args) -> int:
    """The proctor's lab commands: prepare the lab machines' folder, collect the submissions."""
    from autograder import lab
    assignment = _assignments([args.assignment])[0]
    try:
        if args.action == "prepare":
            target = lab.prepare(assignment, Path(args.dest), force=args.force)
            print(f"{target}: the release of {assignment.id}, checked: no solution, hidden test or answer key in it")
            print(f"students run, in that folder: python -m assignments.lab check-machine | start --student ID | "
                  f"check [N] | submit  (submissions go to {target.parent / 'submission'})")
        else:
            copied = lab.collect(assignment, args.sources, args.to)
            print(f"collected {len(copied)} submission(s) into {Path(args.to or cfg.SUBMITTED_DIR)}")
            print(f"grade them: python -m autograder grade {assignment.id} {args.to or 'submitted'}")
    except lab.LabError as exc:
        sys.exit(str(exc))
    return 0


def cmd_gradescope(args) -> int:
    """Build Gradescope's autograder bundle for one assignment."""
    from autograder import gradescope
    assignment = _assignments([args.assignment])[0]
    path = gradescope.bundle(assignment, Path(args.out), allow_no_isolation=args.allow_no_isolation)
    print(f"-> {path}: upload it as the assignment's autograder (Gradescope: Configure Autograder > zip file)")
    return 0


def cmd_gradescope_run(args) -> int:
    """What the bundle's run_autograder calls inside Gradescope's container."""
    from autograder import gradescope
    from autograder.sandbox import IsolationUnavailable
    assignment = _assignments([args.assignment])[0]
    try:
        data = gradescope.run_submission(assignment, Path(args.submission), Path(args.metadata),
                                         Path(args.results), no_isolation=args.no_isolation)
    except IsolationUnavailable as exc:
        _fail(str(exc))
    print(f"{data['score']:g} points -> {args.results}")
    return 0


def cmd_roster(args) -> int:
    """The class roster: import a CSV into nbgrader's gradebook, or list it."""
    from autograder.course import roster
    if args.action == "import":
        try:
            students = roster.import_roster(Path(args.file))
        except roster.RosterError as exc:
            _fail(f"roster import: {exc}")
        print(f"imported {len(students)} students into the gradebook ({cfg.GRADEBOOK_DB}); "
              f"roster kept as {roster.roster_path()}")
        return 0
    found = roster.load()
    if found is None:
        _fail("no roster imported yet: python -m autograder roster import FILE.csv")
    for s in found.values():
        print(f"{s.id:16s} {s.name:30s} {s.email}")
    print(f"({len(found)} students)")
    return 0


def cmd_regrade(args, assignment) -> int:
    """grade HW PATH --student ID --question Q: grade the student's submission again and store
    only that question's new score (autograder.course.regrade); the change is logged."""
    from autograder import feedback, gradebook, grading
    from autograder.course import regrade
    if not (args.student and args.question):
        _fail("grade: --student and --question go together (to grade a whole submission again, "
              "give its path without them)")
    try:
        regrade.check_request(assignment, args.student, args.question)
        found = [p for s, p in grading.find_submissions(assignment, args.paths) if s == args.student]
    except (regrade.RegradeError, FileNotFoundError, ValueError) as exc:
        _fail(f"grade: {exc}")
    if len(found) != 1:
        _fail(f"grade: {'no' if not found else len(found)} submission(s) of {args.student} under "
              f"{' '.join(args.paths)}; nothing was changed")
    _check_gradebook_writable()

    def grade_one(a, student, notebook):
        return next(grading.grade_many(a, [(student, notebook)], workers=1, device=args.device,
                                       progress=False, no_isolation=args.no_isolation))
    try:
        before, after, merged = regrade.regrade(assignment, args.student, args.question, found[0], grade_one,
                                                reason=args.reason)
    except (regrade.RegradeError, gradebook.NotRecorded) as exc:
        _fail(f"grade: {exc}")
    feedback.write(merged, hand=gradebook.manual_grades(assignment.id, args.student))
    q = assignment.question(args.question)
    print(f"{args.student} {assignment.id} {args.question}: {before:g} -> {after:g} / {q.auto_points:g} "
          f"(other questions unchanged; history: python -m autograder history {assignment.id} "
          f"--student {args.student})")
    return 0


def cmd_history(args) -> int:
    """The log of changed grades."""
    from autograder.course import history
    print(history.to_text(history.read(args.assignment, args.student)))
    return 0


def cmd_report(args) -> int:
    """One page per assignment for the instructor: terminal summary, PNG and HTML with plots."""
    from autograder.course import report
    for a in _assignments(args.assignments):
        text, png, page = report.write(a.id)
        print(text)
        print(f"-> {page}" + (f"\n-> {png}" if png else ""))
        print()
    return 0


def cmd_lms(args) -> int:
    """One row per student, a column per assignment, the syllabus-weighted total (for the LMS)."""
    from autograder.course import lms
    heads, rows = lms.table()
    path = Path(args.out) if args.out else cfg.GRADEBOOK_DIR / "lms.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lms.to_csv(heads, rows), encoding="utf-8-sig")  # with a BOM: Excel reads it as UTF-8
    weights = ", ".join(f"{k} {v:g}%" for k, v in cfg.GRADE_WEIGHTS.items())
    print(f"{len(rows)} students -> {path}\nweights (syllabus): {weights}; quizzes and the final project "
          f"are graded elsewhere: their columns are empty and weighted_out_of says what the total covers")
    return 0


def main(argv=None) -> int:
    import os

    prog = "course" if os.path.basename(sys.argv[0]) == "course" else "python -m autograder"
    parser = argparse.ArgumentParser(prog=prog, description=f"{cfg.COURSE_TITLE}: release, grade, export.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()} ({cfg.COURSE_ID})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser = sub.add_parser
    sub.add_parser = lambda *a, **k: _add_parser(*a, formatter_class=argparse.ArgumentDefaultsHelpFormatter, **k)

    p = sub.add_parser("release", help="regenerate release/ (and the sample submissions) from source/")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(fn=cmd_release)

    p = sub.add_parser("validate", help="reference must score full marks, the blank release zero")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--workers", type=_positive, default=2, help="submissions graded at once")
    p.set_defaults(fn=cmd_validate)

    p = sub.add_parser("grade", help="grade notebooks or nbgrader submitted/ trees, record the grades")
    p.add_argument("assignment", help=f"one of: {', '.join(cfg.ASSIGNMENTS)}")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a notebook, a <student>/<assignment>/ folder, or an nbgrader submitted/ tree")
    p.add_argument("--workers", type=_positive, default=2, help="submissions graded at once (1 to time a GPU)")
    p.add_argument("--device", choices=sorted(cfg.DEVICE_PROFILES), default="cpu",
                   help="the device profile: thresholds and where probes run")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--no-isolation", action="store_true",
                   help="run student code without namespaces when neither root nor unprivileged user "
                        "namespaces are available (students can then read and change everything you can)")
    p.add_argument("--gradescope", metavar="FILE",
                   help="also write Gradescope's results.json for the one submission (otter's format)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where the graders run: this machine's worker pool, or Ray workers (each a warm "
                        "grader; --workers of them; see the README's 'Grading on a cluster (Ray)')")
    p.add_argument("--address", metavar="ADDR",
                   help="--backend ray: the cluster to join (HEAD_IP:6379, or 'auto'); default $RAY_ADDRESS, "
                        "else a one-machine Ray cluster started for this run")
    p.add_argument("--server", action="store_true",
                   help="hand the batch to the warm grader started by `serve` (no start-up per command; "
                        "it grades and records)")
    p.add_argument("--student", metavar="ID", help="with --question: regrade one question of this student")
    p.add_argument("--question", metavar="Q", help="with --student: only this question's score changes")
    p.add_argument("--reason", default="", help="with --question: why (kept in the history log)")
    p.set_defaults(fn=cmd_grade)

    p = sub.add_parser("serve", help="run the warm grader: graders and gradebook kept ready for `grade --server`")
    p.add_argument("--workers", type=_positive, default=2, help="student slots: submissions graded at once, all commands together")
    p.add_argument("--warm", nargs="*", default=[], metavar="ASSIGNMENT",
                   help="start these assignments' graders now (others start at their first request)")
    p.add_argument("--idle-exit", type=float, default=3600, metavar="SECONDS",
                   help="stop after this long without a request (0: never)")
    p.add_argument("--grader-idle", type=float, default=1800, metavar="SECONDS",
                   help="close an assignment's grader (its two zygotes) unused this long, except --warm ones (0: never)")
    p.add_argument("--stop", action="store_true", help="stop the running warm grader of this gradebook")
    p.add_argument("--status", action="store_true", help="say whether one runs, and what it holds")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("export", help="print the gradebook and write gradebook/<assignment>.csv")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--gradescope", action="store_true",
                   help="also write gradebook/gradescope/<assignment>/<student>/results.json")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("feedback", help="(re)write each student's feedback report")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(fn=cmd_feedback)

    p = sub.add_parser("demo", help="release, grade the shipped samples, print the gradebook")
    p.add_argument("--workers", type=_positive, default=2, help="submissions graded at once")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("calibrate", help="measure the reference on this machine, write calibration/<device>.json")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all that have thresholds)")
    p.add_argument("--device", choices=sorted(cfg.DEVICE_PROFILES), default="cpu",
                   help="the profile to calibrate (run it on that device)")
    p.set_defaults(fn=cmd_calibrate)

    p = sub.add_parser("lab", help="computer-lab exam: prepare the lab machines' folder, collect submissions")
    p.add_argument("assignment", help="the exam's assignment id (midterm)")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("prepare", help="copy release/<assignment> to DEST/<assignment>, proven free of hidden material")
    q.add_argument("dest", metavar="DEST")
    q.add_argument("--force", action="store_true", help="replace DEST/<assignment> if it exists")
    q = actions.add_parser("collect", help="gather the machines' submission/ folders into submitted/")
    q.add_argument("sources", nargs="+", metavar="SRC")
    q.add_argument("--to", help="where to collect (default: submitted/)")
    p.set_defaults(fn=cmd_lab)

    p = sub.add_parser("gradescope", help="build Gradescope's autograder bundle (setup.sh, run_autograder, source/)")
    p.add_argument("assignment", help=f"one of: {', '.join(cfg.ASSIGNMENTS)}")
    p.add_argument("--out", default=str(cfg.GRADEBOOK_DIR / "gradescope"), help="folder for the zip")
    p.add_argument("--allow-no-isolation", action="store_true",
                   help="grade without namespaces where the container forbids them (students could then "
                        "read the hidden tests in the container); without it such a run reports an error")
    p.set_defaults(fn=cmd_gradescope)

    p = sub.add_parser("gradescope-run", help="(inside Gradescope) grade /autograder/submission, write results.json")
    p.add_argument("assignment")
    p.add_argument("--submission", default="/autograder/submission", help="the submitted files")
    p.add_argument("--metadata", default="/autograder/submission_metadata.json", help="who submitted")
    p.add_argument("--results", default="/autograder/results/results.json", help="where Gradescope reads")
    p.add_argument("--no-isolation", action="store_true", help="see `gradescope --allow-no-isolation`")
    p.set_defaults(fn=cmd_gradescope_run)

    p = sub.add_parser("roster", help="import the class roster (CSV: id, name, email) into the gradebook")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("import", help="add or update every student of FILE (checked first: a bad file changes nothing)")
    q.add_argument("file", metavar="FILE.csv")
    actions.add_parser("show", help="list the imported roster")
    p.set_defaults(fn=cmd_roster)

    p = sub.add_parser("history", help="the log of changed grades (regrades, students graded again, hand grading in the formgrader)")
    p.add_argument("assignment", nargs="?", help="only this assignment")
    p.add_argument("--student", metavar="ID", help="only this student")
    p.set_defaults(fn=cmd_history)

    p = sub.add_parser("report", help="the instructor's summary per assignment (terminal, gradebook/reports/<hw>.png/.html)")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("lms", help="an LMS-ready CSV: a row per student, a column per assignment, the weighted total")
    p.add_argument("--out", metavar="FILE", help="where to write it (default: gradebook/lms.csv)")
    p.set_defaults(fn=cmd_lms)

    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
