"""A TA hand-grades HW2's written report in nbgrader's formgrader, in a real headless Chromium
against a real local formgrader (127.0.0.1 only), started as the README says; the points and the
comment then show in our table, CSV, feedback and history, and no autograded score moves.

The browser is driven over the Chrome DevTools protocol (websocket-client, a dependency of
jupyter-server): clicks and keystrokes are real input events, the page's own JavaScript saves.
Needs Debian's `chromium` (`make setup` installs it where apt-get works as root); skipped with
one line saying so otherwise."""
import base64
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import course_config as cfg

HW2 = cfg.HW2
REPORT = next(q for q in HW2.questions if q.manual_points)
CHROMIUM = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SAMPLES = cfg.SAMPLES_DIR / "submitted"
GRADED = "b1100002"  # the submission the TA grades (a planted mistake: SimpleCNN wrong)
OTHER = "b1100001"  # the reference, left ungraded by hand
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never through a proxy
POINTS, COMMENT = "9.5", "Curves and setup fine; the per-class part misses why cat and dog are confused."

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium; `make setup` "
                                       f"does it as root)")


def _course(env, *args, timeout=300):
    """Our own CLI, as the instructor runs it, on the test's gradebook."""
    done = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cfg.ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End the process group we started (the server or the browser and its children)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass


@pytest.fixture
def formgrader(tmp_path):
    """The course's gradebook (a scratch one) with two graded HW2 submissions, and the formgrader
    started as the README says: `jupyter server` from the course root, on 127.0.0.1 only."""
    folder = tmp_path / "gradebook"
    env = {**os.environ, "COURSE_GRADEBOOK_DIR": str(folder), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config")}  # no personal ~/.jupyter settings
    for student, sample in [(OTHER, "ref_reference"), (GRADED, "mistake_model")]:
        hand_in = tmp_path / "submitted" / student / HW2.id
        shutil.copytree(SAMPLES / sample / HW2.id, hand_in)
    _course(env, "grade", HW2.id, str(tmp_path / "submitted"), "--workers", "2")
    # a gradebook from before the hand-grading watch: the formgrader's start puts it in place
    from autograder.course import history
    history.unwatch_hand_grades(folder / "gradebook.db")

    port, token = _free_port(), os.urandom(16).hex()
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []
    log = open(tmp_path / "formgrader.log", "w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "server", *root_flag, "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", "--no-browser", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={cfg.ROOT}"],
        cwd=cfg.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with LOCAL.open(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the formgrader did not start:\n" + (tmp_path / "formgrader.log").read_text()[-3000:])
            time.sleep(0.3)
        yield {"url": f"{base}/formgrader?token={token}", "env": env, "folder": folder, "tmp": tmp_path}
    finally:
        _stop(server)
        log.close()


class Chromium:
    """Headless Chromium over the DevTools protocol: navigate, click, type, read, screenshot."""

    def __init__(self, profile: Path):
        import websocket
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             # no name resolves but 127.0.0.1: nothing leaves this machine (the formgrader's page asks
             # a CDN for MathJax, Chromium its own services)
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
             f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.is_file() and len(active.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"Chromium did not start (exit {self.proc.poll()})")
            time.sleep(0.1)
        port = active.read_text().split()[0]
        with LOCAL.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.calls = 0

    def call(self, method: str, **params):
        self.calls += 1
        me = self.calls
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait(self, expression: str, what: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        text = self.js("document.body ? document.body.innerText.slice(0, 1500) : ''")
        raise AssertionError(f"the page never showed {what}; at {self.js('location.href')} it shows:\n{text}")

    def go(self, url: str):
        self.call("Page.navigate", url=url)

    def click(self, element: str, what: str):
        """A real mouse click in the middle of `element` (a JavaScript expression), once it is shown."""
        x, y = self.wait(f"(() => {{ const e = {element}; if (!e) return null; e.scrollIntoView({{block: 'center'}}); "
                         f"const r = e.getBoundingClientRect(); return r.width && r.height ? "
                         f"[r.x + r.width / 2, r.y + r.height / 2] : null; }})()", what)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type(self, text: str):
        self.call("Input.insertText", text=text)

    def press_tab(self):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            _stop(self.proc)


def _link(text: str, within: str = "a") -> str:
    return f"[...document.querySelectorAll({within!r})].find(a => a.textContent.trim() === {text!r})"


def test_a_ta_grades_the_hw2_report_in_the_browser(formgrader):
    env, folder, tmp = formgrader["env"], formgrader["folder"], formgrader["tmp"]
    csv_path = folder / f"{HW2.id}.csv"
    _course(env, "export", HW2.id)
    before = {r["student"]: r for r in csv.DictReader(csv_path.open())}
    assert before[GRADED][REPORT.id] == "" and before[GRADED]["manual"] == "pending"

    browser = Chromium(tmp / "chromium-profile")
    try:
        browser.go(formgrader["url"])  # the token logs in, then Manage Assignments
        browser.wait("location.pathname.endsWith('/formgrader/manage_assignments') "
                     "&& document.readyState === 'complete'", "Manage Assignments")
        browser.click(_link("Manual Grading"), "the Manual Grading link")
        browser.click(_link(HW2.id, "td a"), f"{HW2.id} in the list of assignments")
        browser.wait(f"location.pathname.endsWith('/gradebook/{HW2.id}')", f"the notebooks of {HW2.id}")
        browser.click(_link(HW2.notebook, "td a"), f"the notebook {HW2.notebook}")
        browser.wait("document.querySelectorAll('a.name-hidden').length === 2", "two submissions")
        browser.click(_link("Show All Names", "button"), "the Show All Names button")
        browser.screenshot(tmp / "1-submissions.png")
        listed = browser.js("document.body.innerText")  # our autograded score, nothing by hand yet
        assert f"{float(before[GRADED]['auto']):g} / {HW2.auto_points + HW2.manual_points:g}" in listed, listed
        browser.click(_link(GRADED, "a.name-shown"), f"the submission of {GRADED}")

        score, comment = f"input#{REPORT.id}", f"textarea#{REPORT.id}-comment"
        browser.wait(f"!!(document.querySelector({score!r}) && window.jQuery)", "the report's score field")
        # the page's own models have loaded this submission's grades and comments: typing before
        # that is typing into fields nothing saves yet
        browser.wait("!!(window.formgrader && formgrader.grades && formgrader.grades.loaded && "
                     "formgrader.comments && formgrader.comments.loaded)", "the grades and comments loaded", timeout=60)
        # count the formgrader's own "saved" events (its tick beside a field fades after a second)
        browser.js("window.saves = 0; jQuery(document).on('finished_saving', () => window.saves++); true")
        assert "Part 7 (written, graded by hand" in browser.js("document.body.innerText")
        browser.click(f"document.querySelector({score!r})", "the score field")
        browser.type(POINTS)
        browser.click(f"document.querySelector({comment!r})", "the comment field")  # leaving the score saves it
        browser.type(COMMENT)
        browser.press_tab()  # leaving the comment saves it
        browser.wait("window.saves >= 2", "both saves confirmed by the server", timeout=60)
        shot = browser.screenshot(tmp / "2-report-graded.png")
    finally:
        browser.close()
    print(f"screenshots: {tmp / '1-submissions.png'} {shot}")

    # our table and the CSV
    table = _course(env, "export", HW2.id)
    line = next(l for l in table.splitlines() if l.startswith(GRADED))
    assert f" {POINTS} " in f" {line} " and "done" in line.split(), line
    after = {r["student"]: r for r in csv.DictReader(csv_path.open())}
    row = after[GRADED]
    assert float(row[REPORT.id]) == float(POINTS) and row["manual"] == "done"
    assert float(row["raw_total"]) == float(before[GRADED]["auto"]) + float(POINTS)
    for student in (GRADED, OTHER):  # no autograded score moved; the other student untouched
        assert {k: v for k, v in after[student].items() if k not in (REPORT.id, "manual", "total", "raw_total")} \
            == {k: v for k, v in before[student].items() if k not in (REPORT.id, "manual", "total", "raw_total")}
    assert after[OTHER][REPORT.id] == "" and after[OTHER]["manual"] == "pending"

    # the student's feedback
    _course(env, "feedback", HW2.id)
    mine = (folder / "feedback" / GRADED / f"{HW2.id}.md").read_text()
    assert f"{POINTS} / {REPORT.manual_points:g} (graded by hand)" in mine and f"> {COMMENT}" in mine
    assert f"**Total: {float(before[GRADED]['auto']) + float(POINTS):g} / {HW2.auto_points + HW2.manual_points:g}**" \
        in mine
    theirs = (folder / "feedback" / OTHER / f"{HW2.id}.md").read_text()
    assert "pending (graded by hand)" in theirs and COMMENT not in theirs

    # the history: what the TA changed in the formgrader, when, before and after
    log = _course(env, "history", HW2.id, "--student", GRADED)
    assert f"formgrader hand     {HW2.id}  {GRADED}  {REPORT.id}: - -> {POINTS}" in log, log
    assert f'{REPORT.id} comment: (none) -> "{COMMENT[:20]}' in log, log
