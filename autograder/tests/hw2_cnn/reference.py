"""The reference side of HW2's thresholds: SimpleCNN (at any width) and the training loop a
correct submission is timed against. The speed probe runs both in the student's process, next
to the student's loop; calibration runs them on the grading machine. The judge uses
`forward_with` to compute what the student's SimpleCNN should output from its own weights.
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
