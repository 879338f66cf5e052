"""TODO2: multi-head attention against nn.MultiheadAttention(batch_first=True) with the same
weights (copied into q_proj, k_proj, v_proj, out_proj), without and with a key padding mask, in
float32 and float64; and padded keys change nothing for the real positions. These probes run
with a correct attention function lent in place of the student's (TODO1 is graded on its own)."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw3_attention import cases
from autograder.tests.hw3_attention.common import max_error, tolerance, value_of


def expected(case, lengths=None):
    _, b, lq, lk, d, h, dtype, seed = case[:8]
    mha = cases.mha_weights_source(d, h, seed, dtype).double()
    q, k, v = (t.double() for t in cases.mha_inputs(b, lq, lk, d, dtype, seed))
    mask = None if lengths is None else cases.padding_mask(lengths, lk)
    with torch.no_grad():
        out, weights = mha(q, k, v, key_padding_mask=mask, need_weights=True, average_attn_weights=False)
    return out.numpy(), weights.numpy()


def heads_merged_without_transpose(case, got_out) -> bool:
    """Does the output match a merge that reshapes (B, heads, L, d_head) straight to (B, L, d_model)?"""
    _, b, lq, lk, d, h, dtype, seed = case[:8]
    mha = cases.mha_weights_source(d, h, seed, dtype).double()
    q, k, v = (t.double() for t in cases.mha_inputs(b, lq, lk, d, dtype, seed))
    w = mha.in_proj_weight.detach().chunk(3)
    bias = mha.in_proj_bias.detach().chunk(3)
    split = (lambda x, i, n: (x @ w[i].T + bias[i]).view(b, n, h, d // h).transpose(1, 2))
    with torch.no_grad():
        out = torch.nn.functional.scaled_dot_product_attention(split(q, 0, lq), split(k, 1, lk), split(v, 2, lk))
        wrong = mha.out_proj(out.reshape(b, lq, d)).numpy()
    return max_error(got_out, wrong) < 1e-4


def check(case, got, lengths=None):
    _, b, lq, lk, d, h, dtype, _ = case[:8]
    out = value_of(got["out"], "MultiHeadAttention's output", (b, lq, d), dtype)
    weights = value_of(got["weights"], "MultiHeadAttention's weights", (b, h, lq, lk), dtype)
    want_out, want_w = expected(case, lengths)
    tol = 10 * tolerance(dtype)
    where = f"on {case[0]} ({dtype}, {h} heads" + (", key padding)" if lengths else ")")
    if max_error(weights, want_w) > tol:
        hint = ("key_padding_mask follows nn.MultiheadAttention: True marks padding, so pass ~key_padding_mask "
                "(shaped (B, 1, 1, L_k)) to the attention function" if lengths else
                "project with q_proj/k_proj/v_proj, then split: view(B, L, heads, d_head).transpose(1, 2)")
        raise AssertionError(f"{where} the attention weights differ from nn.MultiheadAttention's by up to "
                             f"{max_error(weights, want_w):.3g}: {hint}")
    if max_error(out, want_out) > tol:
        hint = ("the heads are merged with a reshape of (B, heads, L, d_head) straight to (B, L, d_model): transpose "
                "back to (B, L, heads, d_head) first" if lengths is None and heads_merged_without_transpose(case, out) else
                "merge the heads with out.transpose(1, 2).reshape(B, L, d_model), then apply out_proj")
        raise AssertionError(f"{where} the weights are right but the output differs from nn.MultiheadAttention's "
                             f"by up to {max_error(out, want_out):.3g}: {hint}")


def test_mha_matches_torch(student):
    got = student("multihead")["plain"]
    for case in cases.MHA_CASES:
        check(case, got[case[0]])


def test_mha_key_padding_mask(student):
    got = student("multihead")["masked"]
    for case in cases.MHA_PAD_CASES:
        check(case, got[case[0]], case[8])


def test_mha_padding_changes_nothing(student):
    got = student("multihead")["invariance"]
    b, length, extra, d, h, _ = cases.MHA_INVARIANCE
    plain = value_of(got["plain"], "MultiHeadAttention's output", (b, length, d))
    padded = value_of(got["padded"], "MultiHeadAttention's output", (b, length + extra, d))
    error = max_error(plain, padded[:, :length])
    assert error < 1e-4, (
        f"adding {extra} padded keys (key_padding_mask True) changed the outputs of the real positions by up to "
        f"{error:.3g}: padded keys must get zero weight, whatever their values")
