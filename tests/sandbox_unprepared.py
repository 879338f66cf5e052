"""A stand-in hidden suite for tests/test_sandbox.py whose preparation fails, as HW4's does on a
machine without the MiniLM package: the grader must say why, not only that the process ended."""
from autograder.probe import probe


def prepare():
    import a_data_package_this_machine_lacks  # noqa: F401


@probe
def add(sub):
    return {"sum": sub.add(2, 3)}
