"""The reference side of HW2's thresholds: SimpleCNN (at any width) and the training loop a
correct submission is timed against. The speed probe runs both in the student's process, next
to the student's loop (and the reference alone in a clean process that loaded no student
code); calibration runs them on the grading machine. The judge uses `forward_with` to compute
what the student's SimpleCNN should output from its own weights, and `accuracy_of` to evaluate
weights trained in the student's process on held-out images that process never held.

A student's SimpleCNN may name and declare its layers in any order: every parameter of the
architecture has a shape no other one has, so `by_shape` puts them in place by shape alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (kind, shape) of SimpleCNN's parameters, in the order model.parameters() gives them
PARAMETER_SHAPES = [
    (32, 3, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 64, 3, 3), (128,),
    (256, 2048), (256,), (10, 256), (10,),
]


class SimpleCNN(nn.Module):
    """conv 3->32->64->128 (3x3, padding 1, ReLU, 2x2 max-pool), 2048->256, dropout 0.5, ->10.
    `width` scales every layer's channels/units (1.0 = the assignment's model); the speed check
    uses a narrow one on a CPU."""

    def __init__(self, num_classes: int = 10, width: float = 1.0):
        super().__init__()
        c1, c2, c3, hidden = (max(1, round(n * width)) for n in (32, 64, 128, 256))
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c3 * 4 * 4, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def train_one_epoch(model, loader, optimizer, criterion, device):
    """The reference loop: what a correct, ordinary submission does."""
    model.train()
    total, count = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * images.size(0)
        count += images.size(0)
    return total / count


ROLES = ["conv1 weight", "conv1 bias", "conv2 weight", "conv2 bias", "conv3 weight", "conv3 bias",
         "fc1 weight", "fc1 bias", "fc2 weight", "fc2 bias"]

# The message the notebook's public check of Part 4 shows too, word for word (a test holds the
# two to it): the shapes, in any order, whatever the layers are called.
SHAPES_MESSAGE = ("SimpleCNN's parameters should have these shapes (any names, any order): {expected}; "
                  "yours have {got}. Missing: {missing}; not in the architecture: {extra}. "
                  "Compare your layers with the table of Part 4")


def _shapes_text(shapes) -> str:
    return ", ".join(str(tuple(s)) for s in shapes) or "none"


def shape_problem(shapes) -> str | None:
    """None when `shapes` (of a model's parameters, any order) are exactly SimpleCNN's; else the
    message a student reads (the same as the notebook's public check)."""
    shapes = [tuple(int(n) for n in s) for s in shapes]
    expected = [tuple(s) for s in PARAMETER_SHAPES]
    if sorted(shapes) == sorted(expected):
        return None
    missing, extra = list(expected), []
    for s in shapes:
        if s in missing:
            missing.remove(s)
        else:
            extra.append(s)
    return SHAPES_MESSAGE.format(expected=_shapes_text(expected), got=_shapes_text(shapes),
                                 missing=_shapes_text(missing), extra=_shapes_text(extra))


def by_shape(arrays) -> list:
    """A model's parameters (any order) in PARAMETER_SHAPES order; AssertionError with the
    student's message when their shapes are not SimpleCNN's."""
    arrays = list(arrays)
    problem = shape_problem([getattr(a, "shape", ()) for a in arrays])
    if problem:
        raise AssertionError(problem)
    place = {tuple(s): i for i, s in enumerate(PARAMETER_SHAPES)}
    ordered = [None] * len(PARAMETER_SHAPES)
    for a in arrays:
        ordered[place[tuple(a.shape)]] = a
    return ordered


def evaluate_weights(arrays, images: torch.Tensor, labels, chunk: int = 500) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) on (normalised images, labels) of SimpleCNN holding `arrays`
    (a student's trained weights, any order), computed here with the reference forward pass in
    eval mode, in one pass."""
    params = [torch.as_tensor(a, dtype=torch.float32) for a in by_shape(arrays)]
    labels = torch.as_tensor(labels)
    right, total = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            out = forward_with(params, images[start:start + chunk])
            batch = labels[start:start + chunk]
            right += int((out.argmax(1) == batch).sum())
            total += float(F.cross_entropy(out, batch, reduction="sum"))
    return right / len(labels), total / len(labels)


def accuracy_of(arrays, images: torch.Tensor, labels) -> float:
    """The accuracy alone (see `evaluate_weights`)."""
    return evaluate_weights(arrays, images, labels)[0]


def forward_with(params, x, hidden_hook=None):
    """SimpleCNN's eval-mode forward pass with the given parameters (in PARAMETER_SHAPES order).
    `hidden_hook(h)` sees the input of the last linear layer."""
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w3, b3, padding=1)), 2)
    h = F.relu(F.linear(torch.flatten(h, 1), w4, b4))
    if hidden_hook is not None:
        hidden_hook(h)
    return F.linear(h, w5, b5)
