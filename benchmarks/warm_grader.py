"""The isolation redesign's cost per submission (issue 8): 16 copies of the HW1 reference
through one warm `grading.Grader` (zygotes started once), with 1 and 2 grading threads.

    .venv/bin/python benchmarks/warm_grader.py

Before the redesign (661ead1) the same work was `grading.grade_many` in-process after its
first call had warmed the imports; see RESULTS.md, "Isolation redesign".
"""
import shutil, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import course_config as cfg
from autograder import grading
a = cfg.HW1
nb = cfg.SAMPLES_DIR / "submitted" / "ref_reference" / a.id / f"{a.notebook}.ipynb"
with tempfile.TemporaryDirectory(prefix="ipb-") as d, grading.Grader(a) as g:
    subs = []
    for i in range(16):
        p = Path(d) / f"s{i:02d}" / a.id; p.mkdir(parents=True); shutil.copy(nb, p / nb.name); subs.append((f"s{i:02d}", p / nb.name))
    t = time.perf_counter(); g.grade(subs[0][1], "warm"); print(f"after: zygotes start + first grade {time.perf_counter()-t:.1f} s")
    t = time.perf_counter(); rs = [g.grade(p, s, 0) for s, p in subs]; el = time.perf_counter() - t
    print(f"after, warm Grader, 1 thread: {el/16:.2f} s/sub {sorted({r.score for r in rs})}")
    t = time.perf_counter()
    with ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda sp: g.grade(sp[1][1], sp[1][0], sp[0] % 2), enumerate(subs)))
    el = time.perf_counter() - t
    print(f"after, warm Grader, 2 threads: {el/16:.2f} s/sub {sorted({r.score for r in rs})}")
