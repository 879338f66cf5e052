"""The student-side half of a hidden suite: probes.

A probe is a function that runs *inside the student's sandboxed process*. It receives the
submission's namespace, calls the student's code on inputs of the hidden suite, and returns
plain data (numbers, strings, NumPy arrays, lists and dicts of these). It never compares
anything: the judge process, which the student's code never touched, does that in pytest.

    from autograder.probe import probe, attempt

    @probe
    def linear(sub):
        layer = sub.Linear(4, 3)            # MissingName if the notebook lost `Linear`
        ...
        return {"out": out, "dx": attempt(lambda: layer.backward(dout))}

`attempt` keeps one failing part of a probe from sinking its other parts: the failure is
recorded in place of the value, and only the tests that read that value fail, with it.
"""
from __future__ import annotations

import re
import traceback

PROBE_ATTR = "_autograder_probe"


def probe(fn=None, *, timeout: float | None = None):
    """Register `fn` as a probe. `timeout` (seconds) overrides the configured per-check limit."""

    def mark(f):
        setattr(f, PROBE_ATTR, {"timeout": timeout})
        return f

    return mark(fn) if fn is not None else mark


def probes_of(module) -> dict:
    """name -> function for every probe defined in `module`, in definition order."""
    found = [(name, f) for name, f in vars(module).items() if callable(f) and hasattr(f, PROBE_ATTR)]
    found.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return dict(found)


def grading_device() -> str:
    """The device profile this grading run uses ("cpu" or "cuda"): probes put models and
    data there, and time with the profile's timer."""
    import os

    return os.environ.get("COURSE_GRADING_DEVICE", "cpu")


class MissingName(Exception):
    """The submission does not define a name the hidden tests need."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self):
        return (f"`{self.name}` is not defined in your notebook: did you rename or delete it, "
                f"or did the cell that defines it fail? (see the notes on your code cells)")


class Submission:
    """Attribute access to the names a student's notebook defined."""

    def __init__(self, namespace: dict):
        self._namespace = namespace

    def __getattr__(self, name):
        try:
            return self._namespace[name]
        except KeyError:
            raise MissingName(name) from None

    def has(self, name: str) -> bool:
        return name in self._namespace


class Failed:
    """A recorded failure standing in place of a value (see `attempt`)."""

    def __init__(self, message: str):
        self.message = message


def attempt(fn, *args, **kwargs):
    """Call fn; on an exception from the student's code, return Failed(description) instead."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any student error becomes a message
        return Failed(describe_exception(exc))


def describe_exception(exc: BaseException) -> str:
    """One line a student can act on: the error and where in *their* code it happened.

    Only frames from the student's cells (compiled as "<cell N>") are named, so no line of
    the hidden suite ever reaches feedback."""
    if isinstance(exc, MissingName):
        return str(exc)
    if isinstance(exc, SystemExit):
        text = f"your code called sys.exit({exc.code!r})"
    elif type(exc) is NotImplementedError and not str(exc):
        text = "NotImplementedError: this blank is not filled in yet"
    else:
        try:
            message = str(exc)[:2000].strip().splitlines()
        except Exception:  # noqa: BLE001 - a student's __str__ may raise
            message = ["(its message could not be shown)"]
        name = type(exc).__name__[:80].replace("\n", " ")
        text = f"{name}: {message[0][:300]}" if message else name
    hint = next((h for pattern, h in _HINTS if pattern.search(text)), None)  # the error's words, not the names below
    where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell ")]
    if where:
        last = where[-1]
        text += f" (in your code: {last.filename.strip('<>')}, line {last.lineno}, in {last.name})"
    if hint:
        text += f"; hint: {hint}"
    return text


# What an error's own words usually mean on a GPU, for a student who has never seen it there.
_HINTS = [
    # a tensor on the GPU met one on the CPU, or code asked for a GPU where there is none: the usual
    # cause is a hard-coded .cuda() instead of the `device` argument
    (re.compile(r"cuda.*cpu|cpu.*cuda|torch\.cuda\.\w*Tensor.*torch\.(?!cuda)\w*Tensor|"
                r"torch\.(?!cuda)\w*Tensor.*torch\.cuda\.\w*Tensor|not compiled with CUDA|"
                r"No CUDA GPUs are available|no NVIDIA driver", re.IGNORECASE),
     "move models and tensors with .to(device), using the device your function was given, never with "
     ".cuda(): the grader calls it with device='cpu' too"),
    # a kernel's own bounds check (seen on an H200: labels shifted out of 0..9 into cross_entropy)
    (re.compile(r"device-side assert", re.IGNORECASE),
     "an index out of range inside a GPU computation (a label outside 0..classes-1, an index past the end "
     "of a tensor); the same code on the CPU raises an error that names the index. After this error the "
     "GPU cannot be used again in your process, so the checks after it fail with it"),
]


def count_steps(optimizer) -> list:
    """Count `optimizer.step()` calls from here on: the returned list's one item is the count."""
    steps = [0]
    original = optimizer.step

    def step(*args, **kwargs):
        steps[0] += 1
        return original(*args, **kwargs)

    optimizer.step = step
    return steps
