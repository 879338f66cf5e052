"""Exercises 9-10 (week 8): recurrent review classifiers, built with the student's class from
our seed and run on other real reviews; each review's logits must be those of the intended
model run on that review alone, without padding."""
from __future__ import annotations

from autograder.tests.midterm import cases, oracle


def test_ex9_review_gru(student):
    got = student("ex9")["run"]
    k = cases.EX9
    for seed, n, extra_pad in k["batches"]:
        ids, _ = cases.review_batch(seed, n, extra_pad=extra_pad)
        expected = oracle.review_gru(got["state"], ids, k["embed_dim"], k["hidden"])
        problem = oracle.outputs_problem("the logits", got[f"batch {seed}"], expected)
        assert problem is None, (
            f"ReviewGRU on a batch of {n} other reviews: {problem}. The GRU must run along each review's "
            "tokens: nn.GRU reads (time, batch, features) unless batch_first=True, and `ids` is (batch, time)")


def test_ex10_review_lstm(student):
    got = student("ex10")["run"]
    k = cases.EX10
    for seed, n, extra_pad in k["batches"]:
        ids, lengths = cases.review_batch(seed, n, extra_pad=extra_pad)
        expected = oracle.review_lstm(got["state"], ids, lengths, k["embed_dim"], k["hidden"])
        problem = oracle.outputs_problem("the logits", got[f"batch {seed}"], expected)
        assert problem is None, (
            f"ReviewLSTM on a batch of {n} other reviews of different lengths: {problem}. A review's "
            "state is the one after its own last token (position lengths - 1), not after the padding")
