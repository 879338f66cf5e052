"""`python -m autograder calibrate [--device cpu|cuda]`: thresholds measured on the grading machine.

Speed thresholds are ratios (the student's code against the reference, side by side in one
process) and accuracy thresholds are absolute after a fixed budget; both depend on the machine
only a little, but they do depend on it. This command runs the reference solutions on the
machine it is on, through the same probes that grade students, records what it measured (the
device's name, the torch version, accuracies, epoch times, images per second, the spread of the
reference-against-itself ratio) and derives the thresholds with the margins configured in
`course_config.DEVICE_PROFILES`, into `calibration/<device>.json`. Grading reads that file
(`thresholds`); on a device without one it says so in the feedback and uses the configured
defaults.

An assignment takes part when its hidden suite has a `calibration.py` with
`measure(submission, device) -> dict` and `derive(measured, margins, defaults) -> dict`.
"""
from __future__ import annotations

import contextlib
import datetime
import importlib
import io
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

import course_config as cfg


@dataclass(frozen=True)
class Thresholds:
    values: dict  # the thresholds to apply
    calibrated: bool  # from calibration/<device>.json (else: the configured defaults)
    note: str  # one line for the feedback: where the values come from


def calibration_path(device: str) -> Path:
    return cfg.CALIBRATION_DIR / f"{device}.json"


def _shown(path: Path) -> str:
    return str(path.relative_to(cfg.ROOT)) if path.is_relative_to(cfg.ROOT) else str(path)


def thresholds(assignment_id: str, device: str) -> Thresholds:
    """The thresholds grading applies to `assignment_id` on `device`."""
    defaults = dict(cfg.DEVICE_PROFILES[device].thresholds.get(assignment_id, {}))
    path = calibration_path(device)
    try:
        data = json.loads(path.read_text())
        entry = data["assignments"][assignment_id]
    except (OSError, ValueError, KeyError):
        return Thresholds(defaults, False,
                          f"no calibration for the {device} profile ({_shown(path)} has no "
                          f"{assignment_id}): using the configured defaults of course_config.py")
    where = {k: entry.get(k, data.get(k, "?")) for k in ("device_name", "torch", "date")}  # per assignment
    return Thresholds({**defaults, **entry["thresholds"]}, True,
                      f"thresholds calibrated on {where['device_name']} with torch "
                      f"{where['torch']} ({where['date']})")


def suite_calibration(assignment_id: str):
    try:
        return importlib.import_module(f"autograder.tests.{assignment_id}.calibration")
    except ModuleNotFoundError:
        return None


def reference_submission(assignment: cfg.Assignment):
    """The source notebook's code, run here as the grader runs a submission's (no public checks,
    no `skip-grading` cells), in a scratch directory; returns it as probes see a submission."""
    from autograder.notebook import python_source, read_notebook
    from autograder.probe import Submission

    cells = read_notebook(cfg.ROOT / "source" / assignment.id / f"{assignment.notebook}.ipynb",
                          {q.id for q in assignment.questions})
    namespace = {"__name__": "__main__"}
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="calibrate-") as scratch, contextlib.redirect_stdout(io.StringIO()):
        os.chdir(scratch)
        try:
            for cell in cells:
                if cell.run:
                    exec(compile(python_source(cell.source), f"<{cell.label}>", "exec"), namespace)
        finally:
            os.chdir(here)
    return Submission(namespace)


def calibrate(device: str = "cpu", assignment_ids=(), log=print) -> Path:
    """Measure every calibrated assignment on this machine; write calibration/<device>.json."""
    import torch

    from assignments.device import describe

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("calibrate --device cuda: PyTorch sees no GPU on this machine")
    os.environ["COURSE_GRADING_DEVICE"] = device  # what the probes read, as in the sandbox
    os.environ.setdefault("MPLBACKEND", "Agg")
    torch.set_num_threads(1)  # as in the sandbox
    path = calibration_path(device)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    for entry in data.get("assignments", {}).values():  # the machine each entry was measured on stays with it
        for key in ("device_name", "torch", "date"):
            entry.setdefault(key, data.get(key, "?"))
    data.update(device=device, device_name=describe(device), torch=torch.__version__,
                python=platform.python_version(), date=datetime.date.today().isoformat())
    data.setdefault("assignments", {})
    profile = cfg.DEVICE_PROFILES[device]
    for assignment in (cfg.ASSIGNMENTS[i] for i in assignment_ids) if assignment_ids else cfg.ASSIGNMENTS.values():
        module = suite_calibration(assignment.id)
        if module is None:
            continue
        log(f"{assignment.id}: running the reference on {data['device_name']} ...")
        measured = module.measure(reference_submission(assignment), device, log=log)
        margins = profile.margins.get(assignment.id, {})
        derived = module.derive(measured, margins, profile.thresholds.get(assignment.id, {}))
        data["assignments"][assignment.id] = {"measured": measured, "margins": margins, "thresholds": derived,
                                              "device_name": data["device_name"], "torch": data["torch"],
                                              "date": data["date"]}
        log(f"{assignment.id}: thresholds {derived}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path
