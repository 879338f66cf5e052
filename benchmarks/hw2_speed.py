"""HW2 on this machine: the reference's training speed, the time to grade one submission, and
the speed-ratio verdict on the planted slow training loops.

    .venv/bin/python benchmarks/hw2_speed.py [--device cpu|cuda] [--skip-table] [--drift N [--workers W]]

1. Images per second of the reference training loop (reference.train_one_epoch, Adam 1e-3,
   batch 64) on SimpleCNN as the assignment defines it, and on the narrowed model the speed
   check uses on this device, timed as the grader times (CUDA events on a GPU, perf_counter on
   a CPU, one thread on a CPU as in the sandbox; median of 5 epochs after a warm-up).
2. The wall time of grading one submission (the reference solution) through the real grader:
   sandbox, probes (the accuracy budget and the speed ratio included), judge.
3. A markdown table: each planted slow loop (and, on a GPU, the GPU-only ones) graded through
   the real grader, one at a time, with the ratio its speed check measured and its verdict.
4. With --drift N: N honest submissions (the reference, and correct loops in other styles)
   graded through the real grader with W workers, and for each the ratio of the reference epoch
   timed next to the student's loop to the same epoch timed in the grader's clean process (the
   noise the speed check's DRIFT_NOISE and DRIFT_SUSPICIOUS allow for), then the cheat that
   slows the reference down in its own process.
Nothing is recorded in the gradebook.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import course_config as cfg  # noqa: E402
from autograder import grading, samples  # noqa: E402

HW2 = cfg.ASSIGNMENTS["hw2_cnn"]
TABLE = ["ref_reference", "slow_per_sample", "slow_python_lists", "slow_new_optimizer", "cheat_fake_clock",
         "cheat_slow_reference"]
HONEST = ["ref_reference", "style_loops_samplers", "style_numpy_modulelist", "style_loader_workers"]


def drift_of(result) -> float:
    check = next(c for q in result.questions for c in q.checks if c.name == "test_training_speed_ratio")
    found = [re.search(r"took x([0-9.]+) its time in a clean process", d) for d in check.details]
    found = [m for m in found if m]
    return float(found[0].group(1)) if found else float("nan")


def drift(device: str, n: int, workers: int) -> None:
    from autograder.tests.hw2_cnn import test_budget

    by_name = {s.student: s for s in samples.spec(HW2.id)}
    chosen = [by_name[HONEST[k % len(HONEST)]] for k in range(n)] + [by_name["cheat_slow_reference"]]
    with tempfile.TemporaryDirectory(prefix="bench-hw2-drift-") as scratch:
        import nbformat
        submissions = []
        for k, sample in enumerate(chosen):
            path = Path(scratch) / f"{k:02d}_{sample.student}.ipynb"
            nbformat.write(samples.notebook_for(sample, HW2), path)
            submissions.append((f"{k:02d}_{sample.student}", path))
        results = list(grading.grade_many(HW2, submissions, workers=workers, device=device, progress=False))
    honest = sorted(drift_of(r) for r in results if "cheat" not in r.student)
    cheat = [drift_of(r) for r in results if "cheat" in r.student]
    print(f"reference in the student's process / in a clean process, {len(honest)} honest submissions, "
          f"{workers} worker(s): min x{honest[0]:.2f}, median x{statistics.median(honest):.2f}, "
          f"max x{honest[-1]:.2f}  (all: {', '.join(f'{v:.2f}' for v in honest)})")
    print(f"free up to x{test_budget.DRIFT_NOISE:g}, fails and flagged above x{test_budget.DRIFT_SUSPICIOUS:g}; "
          f"the cheat slowing the reference: x{cheat[0]:.2f}")


def reference_throughput(device: str, width: float, images: int = 2048, batch: int = 64) -> float:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from assignments import timing
    from autograder.tests.hw2_cnn import cases, reference

    x, y = cases.speed_data({"speed_images": images})
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=False)
    torch.manual_seed(0)
    model = reference.SimpleCNN(width=width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    epoch = lambda: reference.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss(), device)  # noqa: E731
    timing.seconds(epoch, device)  # warm-up
    return images / statistics.median(timing.seconds(epoch, device) for _ in range(5))


def speed_numbers(result) -> dict:
    check = next(c for q in result.questions for c in q.checks if c.name == "test_training_speed_ratio")
    text = "\n".join(check.details)
    ms = re.findall(r"([0-9.]+) ms", text)
    ratio = re.search(r"ratio x([0-9.]+)", text)
    effective = re.search(r", x(inf|[0-9.]+) counting only", text)
    limit = re.search(r"limit x([0-9.]+)$", text, re.M)
    return {"ref_ms": float(ms[0]) if ms else float("nan"), "stu_ms": float(ms[1]) if ms else float("nan"),
            "ratio": float(ratio.group(1)) if ratio else float("nan"),
            "effective": effective.group(1) if effective else "", "limit": limit.group(1) if limit else "?",
            "passed": check.passed, "message": check.message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=sorted(cfg.DEVICE_PROFILES), default="cpu")
    parser.add_argument("--skip-table", action="store_true")
    parser.add_argument("--drift", type=int, default=0, metavar="N")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("COURSE_GRADEBOOK_DIR", tempfile.mkdtemp(prefix="bench-gradebook-"))
    if args.drift:
        drift(args.device, args.drift, args.workers)
        return

    import torch

    from assignments.device import describe
    threads = torch.get_num_threads()
    if args.device == "cpu":
        torch.set_num_threads(1)
    plan = cfg.DEVICE_PROFILES[args.device].budgets[HW2.id]
    print(f"device: {describe(args.device)}, torch {torch.__version__}")
    full = reference_throughput(args.device, 1.0)
    narrow = reference_throughput(args.device, plan["speed_width"], batch=plan["speed_batch"])
    print(f"reference training, SimpleCNN (620k parameters), batch 64: {full:,.0f} images/s")
    print(f"reference training, the speed check's model (width x{plan['speed_width']}), batch "
          f"{plan['speed_batch']}: {narrow:,.0f} images/s")
    torch.set_num_threads(threads)

    extra = []
    if args.device == "cuda":
        spec = __import__("importlib.util").util.spec_from_file_location("hw2_samples", cfg.SAMPLES_DIR / "hw2_cnn.py")
        module = __import__("importlib.util").util.module_from_spec(spec)
        spec.loader.exec_module(module)
        extra = module.GPU_SLOW
    by_name = {s.student: s for s in samples.spec(HW2.id)}
    chosen = [by_name[n] for n in (TABLE if not args.skip_table else TABLE[:1])] + list(extra)
    with tempfile.TemporaryDirectory(prefix="bench-hw2-") as scratch:
        submissions = []
        for sample in chosen:
            path = Path(scratch) / f"{sample.student}.ipynb"
            import nbformat
            nbformat.write(samples.notebook_for(sample, HW2), path)
            submissions.append((sample.student, path))
        results = {r.student: r for r in grading.grade_many(HW2, submissions, workers=1, device=args.device,
                                                             progress=False)}
    ref = results["ref_reference"]
    print(f"grading one submission (the reference) end to end: {ref.seconds:.1f} s "
          f"({ref.score:g} / {ref.max_score:g})")
    if args.skip_table:
        return
    print()
    print(f"| submission | what it does | reference ms/epoch | its ms/epoch | ratio | limit | speed check |")
    print("|---|---|---:|---:|---:|---:|---|")
    for sample in chosen:
        n = speed_numbers(results[sample.student])
        ratio = f"x{n['ratio']:.2f}" + (f" (x{n['effective']} counting steps)" if n["effective"] else "")
        verdict = "passes" if n["passed"] else "FAILS" + (": timings do not add up" if "add up" in n["message"] else "")
        print(f"| {sample.student} | {sample.why} | {n['ref_ms']:.1f} | {n['stu_ms']:.1f} | {ratio} | "
              f"x{n['limit']} | {verdict} |")


if __name__ == "__main__":
    main()
