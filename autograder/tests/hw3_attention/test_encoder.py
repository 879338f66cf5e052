"""TODO4: the post-norm encoder block against nn.TransformerEncoderLayer (post-norm, ReLU,
dropout off, float64) holding the student's own weights, without and with a key padding mask;
dropout active only in train(). A correct multi-head module is lent during these probes."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw3_attention import cases, reference
from autograder.tests.hw3_attention.common import max_error, value_of


def check(case, got):
    name, b, length, d, h, d_ff, seed, lengths = case
    shapes = {n: tuple(np.asarray(v).shape) for n, v in got["params"].items()}
    expected_shapes = {"linear1.weight": (d_ff, d), "linear2.weight": (d, d_ff), "norm1.weight": (d,), "norm2.weight": (d,)}
    for n, s in expected_shapes.items():
        assert shapes[n] == s, f"EncoderBlock's {n} has shape {shapes[n]}, expected {s}"
    out = value_of(got["out"], "EncoderBlock's output", (b, length, d))
    layer = reference.torch_encoder_layer(got["params"], d, h, d_ff)
    x = cases.encoder_input(b, length, d, seed).double()
    mask = None if lengths is None else cases.padding_mask(lengths, length)
    with torch.no_grad():
        want = layer(x, src_key_padding_mask=mask).numpy()
    real = np.ones((b, length), dtype=bool) if lengths is None else ~mask.numpy()
    error = max_error(out[real], want[real])
    if error > 1e-4:
        with torch.no_grad():
            pre = layer.norm_first
            layer.norm_first = True
            pre_norm = layer(x, src_key_padding_mask=mask).numpy()
            layer.norm_first = pre
        hint = ("it computes a pre-norm block (LayerNorm before attention and feed-forward); this homework's block is "
                "post-norm: x = norm1(x + attention(x)), x = norm2(x + ff(x))" if max_error(out[real], pre_norm[real]) < 1e-4
                else "post-norm: x = norm1(x + dropout(attn(x, x, x, key_padding_mask))), then "
                     "x = norm2(x + dropout(linear2(dropout(relu(linear1(x))))))")
        raise AssertionError(f"on {name} (eval mode, your weights) the block differs from nn.TransformerEncoderLayer "
                             f"by up to {error:.3g}: {hint}")
    train_a = value_of(got["train_a"], "EncoderBlock's output", (b, length, d))
    train_b = value_of(got["train_b"], "EncoderBlock's output", (b, length, d))
    assert max_error(train_a, train_b) > 1e-6, (
        "in train() mode two passes give the same output: dropout (p=0.1) is not active. Use the nn.Dropout module")


def test_encoder_block_matches_torch(student):
    got = student("encoder")["plain"]
    for case in cases.ENCODER_CASES:
        check(case, got[case[0]])


def test_encoder_block_with_padding_mask(student):
    got = student("encoder")["masked"]
    for case in cases.ENCODER_PAD_CASES:
        check(case, got[case[0]])
