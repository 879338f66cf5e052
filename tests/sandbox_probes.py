"""Probes for tests/test_sandbox.py: a stand-in hidden suite that exercises the sandbox."""
import os
import socket

from autograder.probe import attempt, probe


@probe
def add(sub):
    return {"sum": sub.add(2, 3)}


@probe(timeout=2)
def slow(sub):
    return {"value": sub.slow()}


@probe
def snoop(sub):
    """What the student's process can see and do from where it runs."""
    import course_config as cfg

    seen = {}
    for path in (cfg.ROOT / "source", cfg.ROOT / "autograder" / "tests", cfg.GRADEBOOK_DIR, cfg.ROOT / ".git"):
        seen[path.name] = sorted(os.listdir(path)) if path.is_dir() else None

    def write_course_file():
        with open(cfg.ROOT / "course_config.py", "a") as f:
            f.write("# pwned\n")
        return "wrote"

    def connect():
        socket.create_connection(("127.0.0.1", 22), timeout=1).close()
        return "connected"

    return {"listing": str(seen), "uid": os.getuid(), "write": attempt(write_course_file),
            "net": attempt(connect), "cwd": os.getcwd()}


@probe
def returns_impostor(sub):
    return {"value": sub.impostor()}


@probe
def scribble(sub):
    """Write where a student's process could write: only its own scratch should take it."""
    written = {}
    for place in ("/tmp/sandbox_test_scribble", "/var/tmp/sandbox_test_scribble",
                  "/dev/shm/sandbox_test_scribble", "scratch_file"):
        try:
            with open(place, "w") as f:
                f.write("x")
            written[place] = True
        except OSError:
            written[place] = False
    return written
