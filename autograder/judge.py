"""The judging half of a hidden suite: pytest, run where the student's code never ran.

The hidden tests in `autograder/tests/<assignment>/test_*.py` receive the data the probes
collected in the student's sandbox through the `student` fixture, compute the expected
values themselves (PyTorch in float64, the labels of a held-out set, ...) and assert with a
message written for the student. This module runs them with pytest and turns each test into
an outcome: passed, or failed with that message and nothing else (no test source, no
traceback).
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from autograder.probe import Failed

SUITES = Path(__file__).resolve().parent / "tests"
_suspicious: list[str] = []
_DROP_LOGS = logging.NullHandler()


def suspicious(reason: str) -> None:
    """Called by a hidden test that caught the student's process lying (a reference slowed
    down in-process, figures that do not add up): the instructor sees the mark and the reason
    beside the score. It changes no points by itself: the test decides those."""
    if reason not in _suspicious:
        _suspicious.append(str(reason))


class ProbeFailed(Exception):
    pass


class Outputs(dict):
    """A probe's returned data; reading a part that failed in the student's code fails the
    test with that failure's description."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if isinstance(value, Failed):
            pytest.fail(value.message, pytrace=False)
        return value


def _wrap(value):
    if isinstance(value, dict) and not isinstance(value, Outputs):
        return Outputs({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class StudentResults:
    """What the `student` fixture gives a test: `student("probe_name")` -> that probe's data,
    and `student.wall_seconds("probe_name")`: how long the probe took on the grader's clock
    (for re-checking timings the student's process reported about itself)."""

    def __init__(self, probe_results: dict, wall_seconds: dict | None = None):
        self._results = probe_results
        self._wall = wall_seconds or {}

    def wall_seconds(self, probe_name: str) -> float:
        return float(self._wall.get(probe_name, float("nan")))

    def __call__(self, probe_name: str):
        if probe_name not in self._results:
            pytest.fail("this check did not run (see the notes above)", pytrace=False)
        result = self._results[probe_name]
        if isinstance(result, Failed):
            pytest.fail(result.message, pytrace=False)
        return _wrap(result)


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    # Only the message the test wrote: never pytest's explanation of the assert expression.
    kept = []
    for line in text.splitlines():
        if line.lstrip().startswith(("assert ", "+  where", "+    where")):
            break
        kept.append(line)
    text = "\n".join(kept)
    for prefix in ("AssertionError: ", "Failed: "):
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    if text.strip() == "AssertionError":
        return "wrong result"
    # An exception inside the test itself, e.g. the output had a shape numpy cannot compare.
    return "your output could not be checked: " + text.strip().splitlines()[0][:300]


class JudgePlugin:
    def __init__(self, probe_results: dict, wall_seconds: dict | None = None):
        self.results = StudentResults(probe_results, wall_seconds)
        self.outcomes: dict[str, dict] = {}
        self.details: dict[str, list[str]] = {}

    @pytest.fixture
    def student(self):
        return self.results

    @pytest.fixture
    def detail(self, request):
        """detail("accuracy 0.93 (target 0.90)"): a line the student sees under this check,
        passed or failed (measurements against thresholds, a timing bar)."""
        lines = self.details.setdefault(request.node.name, [])
        return lambda text: lines.append(str(text))

    def pytest_runtest_logreport(self, report):
        name = report.nodeid.split("::")[-1]
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            if report.passed:
                outcome = {"passed": True, "message": ""}
            elif report.skipped:
                outcome = {"passed": False, "message": "skipped: " + _message(report)}
            else:
                outcome = {"passed": False, "message": _message(report)}
            outcome["details"] = self.details.get(name, [])
            self.outcomes[name] = outcome


def run_suite(assignment_id: str, probe_results: dict, wall_seconds: dict | None = None) -> dict[str, dict]:
    """Run the hidden tests of `assignment_id` on probe results; test name -> outcome."""
    plugin = JudgePlugin(probe_results, wall_seconds)
    _suspicious.clear()
    suite = SUITES / assignment_id
    args = [str(suite), "-q", "-p", "no:cacheprovider", "--assert=plain", "--no-header",
            "-p", "no:warnings", "-c", str(SUITES / "pytest.ini"), "--rootdir", str(SUITES.parent.parent),
            "-o", "console_output_style=classic", "--tb=no", "-s",
            # these two plugins run gc.collect() several times per session: seconds per
            # submission with torch's heap, and nothing a judge needs
            "-p", "no:unraisableexception", "-p", "no:threadexception",
            # log capture attaches a handler to every non-propagating logger (torch has dozens)
            # around each phase of each test: about 10 ms per submission, for logs nobody reads
            "-p", "no:logging"]
    import contextlib
    import io
    import os
    import sys
    # A judge forked from a pytest run (our own tests) inherits its assertion-rewriting
    # import hook; without it, a failed assert carries only the message we wrote.
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "AssertionRewritingHook"]
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only pytest's own plugins judge
    root = logging.getLogger()
    if _DROP_LOGS not in root.handlers:  # a library's log record is dropped, not printed
        root.addHandler(_DROP_LOGS)
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(args, plugins=[plugin])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(f"the hidden suite of {assignment_id} did not run (pytest exit {int(code)})")
    return plugin.outcomes


def serve(job: dict, chan: int) -> None:
    """A judge process, forked from the judge zygote (`autograder.sandbox.zygote`): read the
    probes' data from the grader, run the hidden suite, send back outcomes and suspicions.
    `job["op"]` is "judge", or "timeouts" (each probe's time limit, read from the suite)."""
    import os

    from autograder.sandbox import protocol

    try:
        if job["op"] == "timeouts":
            import importlib

            from autograder.probe import probes_of
            module = importlib.import_module(f"autograder.tests.{job['assignment']}.probes")
            reply = {"ok": True, "timeouts": {name: f._autograder_probe["timeout"] for name, f in probes_of(module).items()}}
        else:
            os.environ["COURSE_GRADING_DEVICE"] = job["device"]
            import torch
            torch.set_num_threads(1)
            payload = protocol.read_frame_blocking(chan)
            probes = {k: protocol.decode_value(v) for k, v in payload["probes"].items()}
            outcomes = run_suite(job["assignment"], probes, payload.get("wall", {}))
            reply = {"ok": True, "outcomes": outcomes, "suspicious": list(_suspicious)}
    except BaseException as exc:  # noqa: BLE001 - the grader records an error, never a score
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    protocol.write_frame(chan, reply)
