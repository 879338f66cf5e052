"""What grading one submission produces, and how it is stored as JSON beside the gradebook."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

# status of a graded submission
GRADED = "graded"  # the code loaded; every check ran or has its own reason for zero
CRASHED = "crashed"  # the student's code never finished loading (killed, exited, timed out)
INVALID = "invalid"  # the file is not a notebook the grader can read
ERROR = "error"  # the grader itself failed: nothing is recorded, the stored grade stays


@dataclass
class CheckResult:
    name: str
    points: float
    max_points: float
    passed: bool
    message: str = ""
    details: list[str] = field(default_factory=list)  # measurements shown even on a pass


@dataclass
class QuestionResult:
    id: str
    title: str
    score: float
    max_score: float
    manual: bool = False  # graded by hand; `score` is not set by the grader
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # cell errors in this question's cells


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str
    reason: str = ""  # for crashed/invalid/error: one line
    questions: list[QuestionResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    disclosures: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)  # for the instructor: what looked like cheating
    seconds: float = 0.0
    source: str = ""  # the graded file

    @property
    def score(self) -> float:
        return round(sum(q.score for q in self.questions if not q.manual), 6)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_score for q in self.questions if not q.manual), 6)

    @property
    def manual_max(self) -> float:
        return sum(q.max_score for q in self.questions if q.manual)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(score=self.score, max_score=self.max_score)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        data = {k: v for k, v in data.items() if k not in ("score", "max_score")}
        questions = []
        for q in data.pop("questions", []):
            checks = [CheckResult(**c) for c in q.pop("checks", [])]
            questions.append(QuestionResult(checks=checks, **q))
        return cls(questions=questions, **data)


def write_json_atomic(path: Path, data) -> None:
    """Write `data` so that a crash leaves either the old file or the new one, never half."""
    # Text a student's code produced may hold lone surrogates: replaced, never a crash.
    payload = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8", "replace")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def stored_path(results_dir: Path, assignment: str, student: str) -> Path:
    return results_dir / assignment / f"{student}.json"


def load_stored(results_dir: Path, assignment: str) -> list[SubmissionResult]:
    folder = results_dir / assignment
    if not folder.is_dir():
        return []
    return [SubmissionResult.from_dict(json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]
