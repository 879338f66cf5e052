"""TODO1: scaled dot-product attention, against F.scaled_dot_product_attention (float64, here)
on shapes, dtypes and masks the notebook never uses. A wrong result is compared with the usual
mistakes so the message can name the likely one."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.tests.hw3_attention import cases
from autograder.tests.hw3_attention.common import max_error, tolerance, value_of


def expected(case):
    q, k, v, mask = cases.attention_inputs(case, torch.float64)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return out.numpy(), torch.softmax(scores, -1).numpy()


def suspects(case) -> dict:
    """What the usual mistakes would output on this case (float64)."""
    q, k, v, mask = cases.attention_inputs(case, torch.float64)
    d = q.size(-1)
    raw = q @ k.transpose(-2, -1)
    found = {}

    def add(name, weights):
        found[name] = (weights @ v).numpy()

    filled = (lambda s, m: s if mask is None else s.masked_fill(m, float("-inf")))
    add("the scores are divided by d_k instead of its square root", torch.softmax(filled(raw / d, ~mask if mask is not None else None), -1))
    add("the scores are not scaled by 1/sqrt(d_k)", torch.softmax(filled(raw, ~mask if mask is not None else None), -1))
    add("the softmax runs over the queries (dim -2) instead of the keys (dim -1)",
        torch.softmax(filled(raw / math.sqrt(d), ~mask if mask is not None else None), -2).nan_to_num(0.0))
    if mask is not None:
        after = torch.softmax(raw / math.sqrt(d), -1).masked_fill(~mask, 0.0)
        add("the mask is applied after the softmax (the weights no longer sum to 1)", after)
        add("the mask's convention is reversed: PyTorch's True means the key takes part",
            torch.softmax((raw / math.sqrt(d)).masked_fill(mask, float("-inf")), -1).nan_to_num(0.0))
    return found


def check_case(got, case, dtype):
    lead, lq, lk, dv = case[1], case[2], case[3], case[5]
    out = value_of(got["out"], "the output", (*lead, lq, dv), dtype)
    weights = value_of(got["weights"], "the attention weights", (*lead, lq, lk), dtype)
    want_out, want_w = expected(case)
    tol = tolerance(dtype)
    error = max_error(out, want_out)
    if not error <= tol * max(1.0, float(np.abs(want_out).max())):
        likely = [name for name, wrong in suspects(case).items() if max_error(out, wrong) < 1e-4]
        raise AssertionError(
            f"on {case[0]} ({dtype}, mask: {case[6] or 'none'}) your output differs from "
            f"F.scaled_dot_product_attention by up to {error:.3g}"
            + (f": it looks like {likely[0]}" if likely else
               ". Check the 1/sqrt(d_k) scaling, the softmax over the keys (dim=-1) and the mask "
               "(True = takes part, set to -inf before the softmax)"))
    assert max_error(weights, want_w) <= tol, (
        f"on {case[0]} ({dtype}) the output is right but the returned weights are not the softmax of the scaled, "
        "masked scores (return the weights the output was computed with)")


def check_group(student, group):
    got = student("attention")[group]
    for case in cases.ATTENTION_CASES[group]:
        check_case(got[case[0]], case, group)


def test_attention_float32(student):
    check_group(student, "float32")


def test_attention_float64(student):
    check_group(student, "float64")


def test_attention_weights(student):
    got = student("attention")["weights"]
    for case in cases.WEIGHT_CASES:
        result = got[case[0]]
        _, _, _, mask = cases.attention_inputs(case, torch.float64)
        weights = value_of(result["weights"], "the attention weights", (*case[1], case[2], case[3]), "float32")
        sums = weights.sum(-1)
        assert np.allclose(sums, 1.0, atol=1e-5), (
            f"on {case[0]} each query's weights should sum to 1 over the keys; they sum to {sums.min():.3f} .. "
            f"{sums.max():.3f} (softmax over dim=-1, and mask before the softmax)")
        masked = ~np.broadcast_to(mask.numpy(), weights.shape)
        assert np.all(weights[masked] == 0), (
            "keys whose mask is False must get weight exactly 0 (PyTorch's convention: True = takes part)")
        check_case(result, case, "float32")
