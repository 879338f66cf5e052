# nbgrader reads this file; the course itself is described in course_config.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autograder.nbgrader_setup import nbgrader_config  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader/traitlets
c.merge(nbgrader_config())

# Hand grading (the formgrader's points, extra credit and comments) is logged by triggers in the
# gradebook (autograder.course.history): make sure they are there whenever nbgrader's own tools,
# the formgrader first of all, load this file. Cheap, idempotent, never raises. Not for
# `nbgrader db upgrade`: its migrations rebuild tables the triggers name (see the README).
from autograder.course.history import watch_hand_grades  # noqa: E402

if sys.argv[1:3] != ["db", "upgrade"]:
    watch_hand_grades()
