"""The warm grader (`serve` + `grade --server`): the same grades and gradebook rows as a plain
`grade`, through the real CLI; a command from other code is refused; links are refused as by a
plain `grade`; a command killed in the middle of a batch loses and half-writes nothing and the
service goes on; a connection that never speaks holds up nobody; a stop in the middle of a
batch records no false crash; one service per gradebook."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import course_config as cfg

HW1 = cfg.ASSIGNMENTS["hw1_backprop"]
SAMPLES = ["ref_reference", "blank_release", "mistake_layers", "style_a_loops", "bad_syntax_error", "bad_not_json",
           "bad_not_a_notebook"]


def notebook(student: str) -> Path:
    return cfg.SAMPLES_DIR / "submitted" / student / HW1.id / f"{HW1.notebook}.ipynb"


def cli(gradebook: Path, *args, check=True, timeout=300, env=None):
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(gradebook), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cfg.ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


SERVICE_PID = {}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A warm grader on its own gradebook, HW1 warm, two student slots."""
    gradebook = tmp_path_factory.mktemp("served") / "gradebook"
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(gradebook)}
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--workers", "2", "--warm", HW1.id,
                             "--idle-exit", "900"], cwd=cfg.ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert "warm grader ready" in line, line + proc.stdout.read() if proc.poll() is not None else line
    SERVICE_PID[gradebook] = proc.pid
    yield gradebook
    cli(gradebook, "serve", "--stop")
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert not (gradebook / ".server" / "socket").exists()


def stored(gradebook: Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in (gradebook / "results" / HW1.id).glob("*.json")}


def comparable(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("seconds", "source")}


def rows(gradebook: Path) -> list[dict]:
    cli(gradebook, "export", HW1.id)
    import csv
    with open(gradebook / f"{HW1.id}.csv", encoding="utf-8-sig") as f:
        return sorted(csv.DictReader(f), key=lambda r: r["student"])


def test_served_grades_equal_a_plain_grade(service, tmp_path):
    paths = [str(notebook(s)) for s in SAMPLES]
    served = cli(service, "grade", HW1.id, *paths, "--server", "--workers", "2", "--json", str(tmp_path / "s.json"))
    plain = cli(tmp_path / "plain", "grade", HW1.id, *paths, "--workers", "2", "--json", str(tmp_path / "p.json"))
    assert served.stdout == plain.stdout  # the same table, line for line
    for done in (served, plain):  # every one recorded whole, the unreadable ones too; no stray traceback
        assert "NOT recorded" not in done.stderr and "failed" not in done.stderr and "Traceback" not in done.stderr
    assert json.loads((tmp_path / "s.json").read_text()) == json.loads((tmp_path / "p.json").read_text())
    a, b = stored(service), stored(tmp_path / "plain")
    assert sorted(a) == sorted(SAMPLES)
    assert {s: comparable(r) for s, r in a.items()} == {s: comparable(r) for s, r in b.items()}
    assert rows(service) == rows(tmp_path / "plain")
    feedback = lambda g: {p.parent.name: p.read_text() for p in (g / "feedback").glob(f"*/{HW1.id}.md")}  # noqa: E731
    assert feedback(service) == feedback(tmp_path / "plain") and len(feedback(service)) == len(SAMPLES)
    assert a["ref_reference"]["score"] == HW1.auto_points and a["blank_release"]["score"] == 0
    autograded = lambda g: sorted(p.parts[-3] for p in (g / "autograded").glob(f"*/{HW1.id}/*.ipynb"))  # noqa: E731
    unreadable = {"bad_not_json", "bad_not_a_notebook"}
    assert autograded(service) == autograded(tmp_path / "plain") == sorted(set(SAMPLES) - unreadable)


def test_status_and_one_submission(service):
    status = cli(service, "serve", "--status").stdout
    assert "2 slots" in status and HW1.id in status
    done = cli(service, "grade", HW1.id, str(notebook("ref_reference")), "--server")
    assert f"ref_reference {HW1.auto_points:g} / {HW1.auto_points:g}".split() == done.stdout.split()[:4]


def test_the_history_names_the_commands_user_not_the_services(service, tmp_path):
    """A regrade through the warm grader is logged under the user of the command that asked for it."""
    folder = tmp_path / "hist_student" / HW1.id
    folder.mkdir(parents=True)
    target = folder / f"{HW1.notebook}.ipynb"
    target.write_bytes(notebook("mistake_layers").read_bytes())
    cli(service, "grade", HW1.id, str(target), "--server", env={"COURSE_GRADER": "ta_first"})
    target.write_bytes(notebook("ref_reference").read_bytes())
    cli(service, "grade", HW1.id, str(target), "--server", env={"COURSE_GRADER": "ta_second"})
    lines = [json.loads(line) for line in (service / "history.jsonl").read_text().splitlines()]
    mine = [e for e in lines if e["student"] == "hist_student"]
    assert mine and {e["who"] for e in mine} == {"ta_second"}, mine
    assert cli(service, "history", "--student", "hist_student").stdout.count("ta_second") == len(mine)


def test_other_code_is_refused(service, monkeypatch):
    from autograder import server
    monkeypatch.setattr(cfg, "GRADEBOOK_DIR", service)
    monkeypatch.setattr(server, "code_fingerprint", lambda: "0" * 16)
    with pytest.raises(server.ServerUnavailable, match="other grading code"):
        server.grade(HW1, [("ref_reference", notebook("ref_reference"))], progress=False)


def test_without_a_service_grade_server_says_how_to_start_one(tmp_path):
    done = cli(tmp_path / "none", "grade", HW1.id, str(notebook("ref_reference")), "--server", check=False)
    assert done.returncode == 2
    assert "no warm grader is running" in done.stderr and "serve" in done.stderr
    assert "Traceback" not in done.stderr


def test_one_service_per_gradebook(service):
    done = cli(service, "serve", "--workers", "1", check=False)
    assert done.returncode == 2 and "already running" in done.stdout


def test_a_command_killed_mid_batch_loses_nothing(service, tmp_path):
    """The command is killed (SIGKILL) once the first of six results is stored: every result
    the service stored is whole and in the gradebook, and it serves the next command."""
    batch = tmp_path / "batch"
    for i in range(6):
        dest = batch / f"k{i}" / HW1.id
        dest.mkdir(parents=True)
        (dest / f"{HW1.notebook}.ipynb").write_bytes(notebook("ref_reference").read_bytes())
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(service)}
    client = subprocess.Popen([sys.executable, "-m", "autograder", "grade", HW1.id, str(batch), "--server",
                               "--workers", "1"], cwd=cfg.ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(s.startswith("k") for s in stored(service)):
        assert time.monotonic() < deadline and client.poll() is None
        time.sleep(0.05)
    client.send_signal(signal.SIGKILL)
    client.wait()
    while '"busy": 0' not in json.dumps(_ping(service)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    results = {s: r for s, r in stored(service).items() if s.startswith("k")}  # each file parses: whole
    assert 1 <= len(results) < 6
    assert all(r["score"] == HW1.auto_points for r in results.values())
    graded = {r["student"] for r in rows(service)}
    assert set(results) <= graded and not ({f"k{i}" for i in range(6)} - set(results)) & graded
    done = cli(service, "grade", HW1.id, str(batch), "--server")
    assert done.stdout.count(f"{HW1.auto_points:g} / {HW1.auto_points:g}") == 6


def _ping(gradebook: Path) -> dict:
    from autograder import server
    old = cfg.GRADEBOOK_DIR
    cfg.GRADEBOOK_DIR = gradebook
    try:
        return server.ask({"op": "ping"})
    finally:
        cfg.GRADEBOOK_DIR = old


def test_a_dead_zygote_is_replaced(service):
    """A long-lived service whose judge process died (killed by hand, out of memory) starts a
    new one at the next request instead of failing every submission from then on."""
    judges = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _is_judge_of(p, SERVICE_PID[service])]
    assert judges, "the service's judge zygote was not found"
    for pid in judges:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    done = cli(service, "grade", HW1.id, str(notebook("ref_reference")), "--server")
    assert f"{HW1.auto_points:g} / {HW1.auto_points:g}" in done.stdout, done.stdout + done.stderr


def _is_judge_of(proc: Path, parent: int) -> bool:
    try:
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return ppid == parent and b"autograder.sandbox.zygote" in cmdline and b"judge" in cmdline


def test_links_are_refused_as_by_a_plain_grade(service, tmp_path):
    """The command must not resolve links before the service sees them (one to the solution)."""
    source = cfg.ROOT / "source" / HW1.id / f"{HW1.notebook}.ipynb"
    (tmp_path / "linker" / HW1.id).mkdir(parents=True)
    (tmp_path / "linker" / HW1.id / f"{HW1.notebook}.ipynb").symlink_to(source)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / HW1.id).symlink_to(source.parent)
    done = cli(service, "grade", HW1.id, str(tmp_path / "linker"), str(tmp_path / "folder"), "--server",
               "--json", str(tmp_path / "out.json"))
    results = json.loads((tmp_path / "out.json").read_text())
    assert [(r["student"], r["status"], r["score"]) for r in results] == [("folder", "invalid", 0),
                                                                          ("linker", "invalid", 0)], done.stdout
    assert all("link" in r["reason"] for r in results)


def test_a_silent_connection_holds_up_nobody(service):
    import socket
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(str(service / ".server" / "socket"))
    try:
        done = cli(service, "serve", "--status", timeout=20)
        assert "pong" in done.stdout
    finally:
        silent.close()
    time.sleep(0.5)
    assert "pong" in cli(service, "serve", "--status", timeout=20).stdout  # and its end harms nothing


def test_more_slots_than_uids_is_refused(tmp_path):
    done = cli(tmp_path / "g", "serve", "--workers", "17", check=False)
    assert done.returncode == 2 and "at most 16" in done.stderr


def test_a_stop_in_the_middle_of_a_batch_records_no_false_crash(tmp_path):
    """`serve --stop` while a batch is graded: what was graded before is recorded; nothing after
    is recorded as the student's crash (the zygotes end under it); the command says so."""
    gradebook = tmp_path / "gradebook"
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(gradebook)}
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--workers", "1", "--warm", HW1.id],
                            cwd=cfg.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert "warm grader ready" in proc.stdout.readline()
    batch = tmp_path / "batch"
    for i in range(6):
        (batch / f"k{i}" / HW1.id).mkdir(parents=True)
        (batch / f"k{i}" / HW1.id / f"{HW1.notebook}.ipynb").write_bytes(notebook("ref_reference").read_bytes())
    client = subprocess.Popen([sys.executable, "-m", "autograder", "grade", HW1.id, str(batch), "--server",
                               "--workers", "1"], cwd=cfg.ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not stored(gradebook):
        assert time.monotonic() < deadline and client.poll() is None
        time.sleep(0.05)
    cli(gradebook, "serve", "--stop")
    out, err = client.communicate(timeout=120)
    proc.wait(timeout=120)
    results = stored(gradebook)
    assert 1 <= len(results) < 6
    assert {r["status"] for r in results.values()} == {"graded"}, results
    assert client.returncode == 2 and "stopped in the middle of this batch" in err


def test_a_grader_unused_for_a_while_is_closed_and_started_again(tmp_path):
    """`--grader-idle`: an assignment's grader (two zygotes with torch) no batch used for that long
    is closed, so a semester's assignments need not all stay in memory; the next request starts
    it again and grades as before. `--warm` ones stay."""
    gradebook = tmp_path / "gradebook"
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(gradebook)}
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--workers", "1", "--grader-idle", "1",
                             "--warm", "midterm"], cwd=cfg.ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert "warm grader ready" in proc.stdout.readline()
        first = cli(gradebook, "grade", HW1.id, str(notebook("ref_reference")), "--server")
        assert HW1.id in cli(gradebook, "serve", "--status").stdout
        line = proc.stdout.readline()  # the service's log: the next line is the closing
        assert f"{HW1.id} (cpu): unused for 1 s, its grader closed" in line, line
        status = cli(gradebook, "serve", "--status").stdout
        assert HW1.id not in status and "midterm" in status, status
        again = cli(gradebook, "grade", HW1.id, str(notebook("ref_reference")), "--server")
        assert again.stdout == first.stdout
    finally:
        cli(gradebook, "serve", "--stop", check=False)
        proc.wait(timeout=60)
