"""Reference building blocks of HW3, with the notebook's layout (q_proj, k_proj, v_proj, out_proj;
post-norm block). The probes lend them to a submission so that each question is checked on its
own (a wrong attention function does not sink the multi-head check, a wrong multi-head module does
not sink the encoder block); the judge uses them to replay training. They compute nothing the
judge trusts as an expected value except where it says so: outputs are compared with PyTorch's own
modules (`F.scaled_dot_product_attention`, `nn.MultiheadAttention`, `nn.TransformerEncoderLayer`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        self.d_model, self.num_heads, self.d_head = d_model, num_heads, d_model // num_heads
        self.q_proj, self.k_proj = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.v_proj, self.out_proj = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)

    def forward(self, query, key, value, key_padding_mask=None):
        b, lq, lk = query.size(0), query.size(1), key.size(1)
        q = self.q_proj(query).view(b, lq, self.num_heads, self.d_head).transpose(1, 2)
        k = self.k_proj(key).view(b, lk, self.num_heads, self.d_head).transpose(1, 2)
        v = self.v_proj(value).view(b, lk, self.num_heads, self.d_head).transpose(1, 2)
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, lq, self.d_model)), weights


def sinusoidal_positional_encoding(max_len, d_model):
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    angle = position / torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe.float()


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model))

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(1)].to(x.dtype))


class EncoderBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.last_weights = None

    def forward(self, x, key_padding_mask=None):
        attended, self.last_weights = self.attn(x, x, x, key_padding_mask=key_padding_mask)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x))))))


def torch_encoder_layer(params: dict, d_model: int, heads: int, d_ff: int, dtype=torch.float64):
    """nn.TransformerEncoderLayer (post-norm, ReLU, dropout off) holding the weights `params`
    (name -> array, names as in the notebook's EncoderBlock)."""
    layer = nn.TransformerEncoderLayer(d_model, heads, d_ff, dropout=0.0, batch_first=True).to(dtype).eval()
    t = {name: torch.as_tensor(value, dtype=dtype) for name, value in params.items()}
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([t["attn.q_proj.weight"], t["attn.k_proj.weight"], t["attn.v_proj.weight"]]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([t["attn.q_proj.bias"], t["attn.k_proj.bias"], t["attn.v_proj.bias"]]))
        layer.self_attn.out_proj.weight.copy_(t["attn.out_proj.weight"])
        layer.self_attn.out_proj.bias.copy_(t["attn.out_proj.bias"])
        for name in ("linear1", "linear2", "norm1", "norm2"):
            getattr(layer, name).weight.copy_(t[f"{name}.weight"])
            getattr(layer, name).bias.copy_(t[f"{name}.bias"])
    return layer


ENCODER_PARAMETERS = ("attn.q_proj.weight", "attn.q_proj.bias", "attn.k_proj.weight", "attn.k_proj.bias",
                      "attn.v_proj.weight", "attn.v_proj.bias", "attn.out_proj.weight", "attn.out_proj.bias",
                      "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                      "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias")


def train_epoch(model, loader, optimizer, device):
    """The loop the notebook asks for (the judge replays it)."""
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        batch = {name: tensor.to(device) for name, tensor in batch.items()}
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        total += loss.item() * batch["labels"].size(0)
        count += batch["labels"].size(0)
    return total / count
