"""The course's one source of truth.

Everything the tooling needs to know about the course lives here: the assignments and the
points of every check, the grading limits, and the device profiles with their thresholds.
nbgrader's configuration (`nbgrader_config.py`) and the autograder both read this file;
nothing here is repeated elsewhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent

COURSE_ID = "cgu-dl-114-1"
COURSE_TITLE = "Deep Learning (CGU, fall 2025)"


@dataclass(frozen=True)
class Question:
    """One graded question: an nbgrader grade cell in the notebook (its `grade_id` is `id`).

    `checks` maps each hidden test (a function in `autograder/tests/<assignment>/`) to the
    points it is worth, so a question earns partial credit check by check. A question with
    `manual_points` and no checks is graded by hand (a written answer).
    """

    id: str
    title: str
    checks: dict[str, float] = field(default_factory=dict)
    manual_points: float = 0.0

    @property
    def auto_points(self) -> float:
        return float(sum(self.checks.values()))

    @property
    def points(self) -> float:
        return self.auto_points + self.manual_points


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    due: str  # ISO date, Asia/Taipei
    notebook: str  # notebook name without .ipynb, inside source/<id>/
    questions: tuple[Question, ...]

    @property
    def auto_points(self) -> float:
        return sum(q.auto_points for q in self.questions)

    @property
    def manual_points(self) -> float:
        return sum(q.manual_points for q in self.questions)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(f"{self.id} has no question {qid!r}")

    def check_points(self) -> dict[str, tuple[str, float]]:
        """hidden test name -> (question id, points)"""
        return {t: (q.id, p) for q in self.questions for t, p in q.checks.items()}


HW1 = Assignment(
    id="hw1_backprop",
    title="HW1: Backpropagation from scratch (NumPy)",
    due="2025-10-01",
    notebook="hw1_backprop",
    questions=(
        Question("value_ops", "TODO1: operations of the scalar Value", {
            "test_value_forward_ops": 2,
            "test_value_local_gradients": 3,
            "test_value_ops_with_plain_numbers": 1,
        }),
        Question("value_backward", "TODO2: Value.backward", {
            "test_backward_random_graphs": 3,
            "test_backward_reused_node_accumulates": 2,
            "test_backward_deep_chain_topological_order": 1,
        }),
        Question("layers", "TODO3: Linear, ReLU and Sigmoid layers", {
            "test_layers_forward": 2,
            "test_layers_backward": 3,
            "test_layer_stack_matches_torch": 1,
        }),
        Question("losses", "TODO4: MSE and softmax cross-entropy", {
            "test_loss_values": 2,
            "test_loss_gradients": 3,
        }),
        Question("mlp_sgd", "TODO5: MLP and the SGD step", {
            "test_mlp_gradients_match_torch": 3,
            "test_sgd_step": 1,
        }),
        Question("grad_check", "TODO6: centered finite-difference gradient check", {
            "test_numerical_gradient": 2,
            "test_gradient_check_flags_wrong_gradient": 1,
        }),
        Question("training", "TODO7: train the MLP on real handwritten digits", {
            "test_training_reaches_accuracy": 3,
            "test_training_loss_decreases": 1,
        }),
        Question("derivation", "Written: derive backprop for your MLP with MSE",
                 manual_points=4),
    ),
)

ASSIGNMENTS: dict[str, Assignment] = {a.id: a for a in (HW1,)}


@dataclass(frozen=True)
class Limits:
    """Sandbox limits for one submission (the student's process)."""

    load_timeout_s: float = 20.0  # running one code cell of the notebook
    check_timeout_s: float = 15.0  # one probe (the work behind one or more hidden tests)
    submission_timeout_s: float = 300.0  # everything for one submission, restarts included
    memory_mb: int = 3072  # on top of what the grader itself has mapped before the fork
    output_kb: int = 256  # what a submission may print; more is discarded
    max_processes: int = 64  # threads count too


LIMITS = Limits()


@dataclass(frozen=True)
class DeviceProfile:
    """How grading measures on one kind of device. Thresholds from `calibrate` override the
    defaults here; grading on a device with no calibration says so and uses these."""

    name: str
    memory_cap: str  # "rlimit" (address-space limit) or "watchdog" (resident-size polling)
    timer: str  # "perf_counter" or "cuda_events"


DEVICE_PROFILES = {
    "cpu": DeviceProfile("cpu", memory_cap="rlimit", timer="perf_counter"),
    # CUDA reserves a huge virtual address space at start-up and fails under RLIMIT_AS, so
    # the GPU profile caps memory by watching the resident size instead.
    "cuda": DeviceProfile("cuda", memory_cap="watchdog", timer="cuda_events"),
}

# Where nbgrader and the grader keep their state (git-ignored: student data). Tests point
# COURSE_GRADEBOOK_DIR at a temporary directory so they never touch the real gradebook.
GRADEBOOK_DIR = Path(os.environ.get("COURSE_GRADEBOOK_DIR", ROOT / "gradebook")).resolve()
GRADEBOOK_DB = GRADEBOOK_DIR / "gradebook.db"
FEEDBACK_DIR = GRADEBOOK_DIR / "feedback"
RESULTS_DIR = GRADEBOOK_DIR / "results"
SUBMITTED_DIR = ROOT / "submitted"  # nbgrader's submitted/<student>/<assignment>/
SAMPLES_DIR = ROOT / "samples"  # shipped sample submissions, same layout as submitted/
# Data directories outside the repository that graded code may read (e.g. the instructor's
# CIFAR-10 copy); the sandbox keeps them visible, read-only.
DATA_DIRS: tuple[Path, ...] = ()
