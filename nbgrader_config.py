# nbgrader reads this file; the course itself is described in course_config.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autograder.nbgrader_setup import nbgrader_config  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader/traitlets
c.merge(nbgrader_config())
