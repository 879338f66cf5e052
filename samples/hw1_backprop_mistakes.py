"""Planted mistakes for HW1: plausible wrong answers, one snippet each, applied to the source
notebook's solution code. Each must lose exactly the points of its question (every hidden check of
that question fails, every other check passes); the sample-notebook builder turns them into
submissions.

`old` is an exact snippet of the reference solution in source/hw1_backprop/hw1_backprop.ipynb
(it occurs exactly once); `new` replaces it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    student: str  # the sample submission's student id
    question: str  # the question (grade_id in course_config.HW1) whose points it must lose
    old: str
    new: str
    why: str  # what the student got wrong, in one sentence


MISTAKES = [
    Mistake(
        student="mistake_value_ops",
        question="value_ops",
        old=("        other = other if isinstance(other, Value) else Value(other)\n"
             "        return Value(self.data * other.data, (self, other), (other.data, self.data), \"*\")"),
        new="        return Value(self.data * other.data, (self, other), (other.data, self.data), \"*\")",
        why="__mul__ does not wrap plain numbers, so 2 * v, -a (a * -1) and a - b fail",
    ),
    Mistake(
        student="mistake_value_backward",
        question="value_backward",
        old="            child.grad += local_grad * v.grad",
        new="            child.grad = local_grad * v.grad",
        why="backward overwrites the gradient of a reused node instead of accumulating it",
    ),
    Mistake(
        student="mistake_layers",
        question="layers",
        old="        self.out = 1.0 / (1.0 + np.exp(-x))",
        new="        self.out = 1.0 / 1.0 + np.exp(-x)",
        why="Sigmoid.forward loses the parentheses of the denominator (and backward uses that output)",
    ),
    Mistake(
        student="mistake_losses",
        question="losses",
        old="    shifted = logits - logits.max(axis=1, keepdims=True)",
        new="    shifted = logits",
        why="softmax cross-entropy without subtracting the row max overflows for logits of 1000",
    ),
    Mistake(
        student="mistake_mlp_sgd",
        question="mlp_sgd",
        old=("                params.append((layer.W, layer.dW))\n"
             "                params.append((layer.b, layer.db))"),
        new="                params.append((layer.W, layer.dW))",
        why="MLP.parameters() forgets the biases, so they are never reported nor trained",
    ),
    Mistake(
        student="mistake_grad_check",
        question="grad_check",
        old=("        x[i] = old - eps\n"
             "        fm = float(f(x))\n"
             "        x[i] = old\n"
             "        grad[i] = (fp - fm) / (2 * eps)"),
        new=("        x[i] = old\n"
             "        fm = float(f(x))\n"
             "        grad[i] = (fp - fm) / eps"),
        why="a one-sided finite difference instead of the centered one (error of order eps, not eps^2)",
    ),
    Mistake(
        student="mistake_training",
        question="training",
        old="            loss, dlogits = softmax_cross_entropy(logits, y[idx])",
        new="            loss, dlogits = softmax_cross_entropy(logits, y[start:start + batch_size])",
        why="the batch's labels are sliced in the original order while its images are shuffled",
    ),
]
