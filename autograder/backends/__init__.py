"""Where submissions are graded: one small interface, one module per engine.

    local.py   threads of this process over one warm `Grader` (the default: `make demo`, tests)
    ray.py     warm `Grader`s as Ray actors on a Ray cluster (`grade --backend ray [--address]`)

A backend is a module with one function

    run(assignment, submissions, *, workers, device, no_isolation, address=None)
        -> iterator of SubmissionResult

that grades each (student, notebook path) pair with `autograder.grading.Grader` (the same
zygotes, sandbox, limits and judge everywhere) and yields each submission's result exactly
once, in completion order. A backend never records anything: the coordinator
(`cli.grade_and_record`) writes the gradebook, the results and the feedback as results arrive.
A third engine (Slurm, Kubernetes) is one more module with that function and one more line in
`BACKENDS`; its engine is imported only when it is chosen.
"""
from __future__ import annotations

import importlib

BACKENDS = {
    "local": "autograder.backends.local",
    "ray": "autograder.backends.ray",
}


class BackendUnavailable(RuntimeError):
    """The engine cannot grade here (no cluster at that address, no GPU in the cluster...)."""


def names() -> list[str]:
    return list(BACKENDS)


def get(name: str):
    """The `run` function of backend `name`."""
    try:
        module = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown grading backend {name!r}; known: {', '.join(BACKENDS)}") from None
    return importlib.import_module(module).run
