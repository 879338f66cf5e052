"""Inputs of the midterm's hidden suite, rebuilt identically on both sides.

The probes (in the student's sandbox) run the student's programs on these; the tests (in the
judge) rebuild the same inputs and run the correct programs (oracle.py) on them. Only inputs
live here: models with their seeds, real digits and reviews picked with seeds of our own, and
settings (batch sizes, learning rates, thresholds ...) that differ from the notebook's checks.
"""
from __future__ import annotations

import functools
import re
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from assignments.data import load_digits8x8, load_rotten_tomatoes

# ------------------------------------------------------------------ digits

_all_digits = functools.lru_cache(maxsize=1)(load_digits8x8)


def digits(seed: int, n: int, images: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """n real digits picked with `seed`: X float32 (n, 64), or (n, 1, 8, 8) with images=True."""
    X, y = _all_digits()
    pick = np.random.default_rng(seed).permutation(len(X))[:n]
    X = torch.from_numpy(X[pick].copy())
    return (X.view(-1, 1, 8, 8) if images else X), torch.from_numpy(y[pick].copy())


def mlp(seed: int, hidden: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def trained_mlp(seed: int, steps: int = 60) -> nn.Module:
    """An MLP that has learned something (its predictions vary from digit to digit)."""
    model = mlp(seed)
    X, y = digits(seed + 1, 400)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
    return model.eval()


# Exercise 1: gradient accumulation (micro-batches per epoch divisible by accum_steps)
EX1 = {
    "a": dict(model_seed=101, data_seed=102, n=256, epochs=2, micro_batch=8, accum_steps=4, lr=0.1, seed=103),
    "b": dict(model_seed=111, data_seed=112, n=192, epochs=2, micro_batch=16, accum_steps=3, lr=0.2, seed=113),
}

# Exercise 2: the step schedule
EX2 = {
    "a": dict(model_seed=201, data_seed=202, n=320, epochs=5, lr=0.1, step_size=2, gamma=0.5, batch_size=32, seed=203),
    "b": dict(model_seed=211, data_seed=212, n=256, epochs=4, lr=0.05, step_size=1, gamma=0.7, batch_size=64, seed=213),
}

# Exercise 3: the classifier's loss
EX3 = {
    "a": dict(model_seed=301, data_seed=302, n=320, epochs=3, lr=5e-3, batch_size=32, seed=303),
    "b": dict(model_seed=311, data_seed=312, n=256, epochs=2, lr=2e-2, batch_size=64, seed=313),
}

# Exercise 4: confident predictions: one batch, the same images one by one and in fives
EX4 = dict(model_seed=401, data_seed=402, n=60, thresholds=(0.8, 0.5), chunks=(1, 5))

# Exercise 5: evaluate() on a CNN with batch norm whose running statistics differ from the
# statistics of any batch it is evaluated on
EX5 = dict(model_seed=501, data_seed=502, n=70, batch_sizes=(5, 64))


class BatchNormCNN(nn.Module):
    def __init__(self, channels: int = 6):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


def ex5_model_and_data() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The CNN in training mode (as in the middle of a training loop), with running statistics
    gathered on brighter, shifted images; the images; and labels chosen so that the model in
    evaluation mode gets every one right."""
    torch.manual_seed(EX5["model_seed"])
    model = BatchNormCNN()
    X, _ = digits(EX5["data_seed"], EX5["n"] + 200, images=True)
    model.train()
    with torch.no_grad():
        for start in range(EX5["n"], EX5["n"] + 200, 50):
            model(X[start:start + 50] * 1.8 + 0.3)
    images = X[:EX5["n"]].clone()
    model.eval()
    with torch.no_grad():
        labels = model(images).argmax(dim=1)
    model.train()
    return model, images, labels


# Exercise 6: predictions in order (a size that no batch size divides)
EX6 = dict(model_seed=601, data_seed=602, n=301, batch_sizes=(64, 7))

# Exercise 7: the dropout CNN, built with the student's class and these settings
EX7 = dict(model_seed=701, data_seed=702, n=24, channels=8, hidden=32, p=0.4, dropout_seed=703)

# Exercise 8: early stopping on a model with buffers (batch norm)
EX8 = dict(model_seed=801, data_seed=802, n_train=60, n_val=400, max_epochs=25, patience=3, lr=1e-2, seed=803)


def bn_mlp(seed: int, hidden: int = 128) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 10))


def ex8_data():
    X, y = digits(EX8["data_seed"], EX8["n_train"] + EX8["n_val"])
    n = EX8["n_train"]
    return (X[:n], y[:n]), (X[n:], y[n:])


# ------------------------------------------------------------------ reviews

PAD, UNK = 0, 1
VOCAB_SIZE = 3002  # the student's model is built with this; every id below is smaller


@functools.lru_cache(maxsize=1)
def _reviews() -> list[str]:
    return load_rotten_tomatoes()[0]


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@functools.lru_cache(maxsize=1)
def _vocab() -> dict[str, int]:
    counts = Counter(t for text in _reviews()[::2] for t in _tokens(text))
    return {w: i + 2 for i, (w, _) in enumerate(counts.most_common(VOCAB_SIZE - 2))}


def review_batch(seed: int, n: int, max_tokens: int = 30, extra_pad: int = 0):
    """n real reviews picked with `seed` (cut to max_tokens): ids (n, T) right-padded with PAD
    to the longest one plus `extra_pad`, and their lengths (n,)."""
    reviews, vocab = _reviews(), _vocab()
    pick = np.random.default_rng(seed).permutation(len(reviews))[:n]
    seqs = [([vocab.get(t, UNK) for t in _tokens(reviews[i])] or [UNK])[:max_tokens] for i in pick]
    T = max(len(s) for s in seqs) + extra_pad
    ids = torch.full((n, T), PAD, dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, :len(s)] = torch.tensor(s)
    return ids, torch.tensor([len(s) for s in seqs])


# Exercises 9 and 10: the student's classes, built with these settings, on batches of reviews
EX9 = dict(model_seed=901, embed_dim=16, hidden=24, batches=((902, 12, 0), (903, 5, 7)))
EX10 = dict(model_seed=1001, embed_dim=16, hidden=24, batches=((1002, 12, 0), (1003, 5, 7)))

CONCEPTS = tuple(f"c{i}" for i in range(1, 13))
