"""nbgrader's configuration, derived from course_config.py (the repository root is an nbgrader
course directory). `nbgrader_config.py` at the root loads this, so nbgrader's own commands
(`nbgrader formgrader`, `nbgrader export`, ...) see the same course as our CLI."""
from __future__ import annotations

import os
import sys

from traitlets.config import Config

import course_config as cfg

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def nbgrader_config(release_dir=None, db_path=None) -> Config:
    c = Config()
    c.CourseDirectory.root = str(cfg.ROOT)
    c.CourseDirectory.course_id = cfg.COURSE_ID
    c.CourseDirectory.db_url = f"sqlite:///{db_path or cfg.GRADEBOOK_DB}"
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = str(release_dir or "release")
    c.CourseDirectory.submitted_directory = "submitted"
    c.CourseDirectory.autograded_directory = str(cfg.GRADEBOOK_DIR / "autograded")
    c.CourseDirectory.feedback_directory = str(cfg.GRADEBOOK_DIR / "nbgrader_feedback")
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info"]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
    # the course's late policy (course_config.LATE_POLICY) as nbgrader's late-submission plugin
    c.AssignLatePenalties.plugin_class = "autograder.course.late.CoursePenalty"
    return c


def generate_assignment_preprocessors() -> list:
    """nbgrader's own GenerateAssignment pipeline, in its order, with ClearSolutions replaced
    by our subclass that also turns the midterm's bug regions into the released code."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions

    from autograder.preprocessors import ClearSolutionsShowBugs

    default = GenerateAssignment.class_traits()["preprocessors"].default()
    return [ClearSolutionsShowBugs if p is ClearSolutions else p for p in default]


def ensure_tools_on_path() -> None:
    """nbgrader shells out to `alembic` when it creates or upgrades a gradebook; make the
    interpreter's own bin directory reachable even when the venv is not activated."""
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
