"""Probes for tests/test_sandbox.py: a stand-in hidden suite that exercises the sandbox."""
import os
import socket

from autograder.probe import attempt, probe

# What an adversary who read our code would look for, from inside the student's process.
COURSE_ROOT = os.environ.get("SANDBOX_TEST_COURSE_ROOT", "")


@probe
def add(sub):
    return {"sum": sub.add(2, 3)}


@probe(timeout=2)
def slow(sub):
    return {"value": sub.slow()}


@probe
def snoop(sub):
    """What the student's process can see and do from where it runs."""
    targets = {name: os.path.join(sub.COURSE_ROOT, name) for name in
               ("source", "autograder", "gradebook", ".git", "samples", "downloaded", "course_config.py")}
    seen = {name: os.path.exists(path) for name, path in targets.items()}

    def write_course_file():
        with open(os.path.join(sub.COURSE_ROOT, "assignments", "__init__.py"), "a") as f:
            f.write("# pwned\n")
        return "wrote"

    def connect():
        socket.create_connection(("127.0.0.1", 22), timeout=1).close()
        return "connected"

    def processes():
        return len([p for p in os.listdir("/proc") if p.isdigit()])

    return {"seen": seen, "uid": os.getuid(), "write": attempt(write_course_file),
            "net": attempt(connect), "cwd": os.getcwd(), "processes": attempt(processes),
            "root_listing": sorted(os.listdir("/")), "parent": os.getppid()}


@probe
def returns_impostor(sub):
    return {"value": sub.impostor()}


@probe
def scribble(sub):
    """Write where a student's process could write: only its own scratch should take it."""
    written = {}
    for place in ("/tmp/sandbox_test_scribble", "/var/tmp/sandbox_test_scribble", "/run/lock/sandbox_test_scribble",
                  "/dev/shm/sandbox_test_scribble", "scratch_file"):
        try:
            with open(place, "w") as f:
                f.write("x")
            written[place] = True
        except OSError:
            written[place] = False
    return written
