"""The reference side of HW4: the quantization the notebook asks for, written once here.

The judge uses it to compute what the student's functions should return on hidden inputs; the
probes use it (in the student's process) to give the student's QuantLinear and quantize_model
correct helper functions, so that a mistake in Parts 1-4 costs only its own question, and to
time the float layer the student's QuantLinear is compared with. Conventions (the notebook
states the same):

- symmetric: scale = absmax / qmax with qmax = 2**(bits-1) - 1; q = clamp(round(x / scale),
  -qmax, qmax) as int8; an all-zero tensor gets scale 1 (q = 0, no division by zero);
- asymmetric: the range [min(x, 0), max(x, 0)] onto [0, 2**bits - 1]; scale = range / (2**bits - 1);
  zero point = clamp(round(-min / scale), 0, 2**bits - 1), an integer;
- per channel: one scale per output row of a weight (out_features, in_features), shape (out, 1);
- int4 packing: a 1-D tensor of values in [-8, 7], element 2i in the LOW nibble of byte i and
  element 2i+1 in the HIGH nibble; an odd length is padded with one zero; ceil(n / 2) bytes;
- QuantLinear: int8 weight (out, in) or the flattened int4 weight packed (ceil(out*in/2) bytes),
  float32 scales, the float bias untouched.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def qmax_of(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def absmax_scale(x, bits):
    absmax = x.abs().max()
    return torch.where(absmax > 0, absmax / qmax_of(bits), torch.ones_like(absmax))


def quantize(x, scale, bits):
    qmax = qmax_of(bits)
    return torch.clamp(torch.round(x / scale), -qmax, qmax).to(torch.int8)


def dequantize(q, scale):
    return q.to(torch.float32) * scale


def asymmetric_params(x, bits):
    levels = 2 ** bits - 1
    lo, hi = torch.clamp(x.min(), max=0.0), torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return scale, torch.clamp(torch.round(-lo / scale), 0, levels).to(torch.int64)


def asymmetric_quantize(x, scale, zero_point, bits):
    return torch.clamp(torch.round(x / scale) + zero_point, 0, 2 ** bits - 1).to(torch.uint8)


def asymmetric_dequantize(q, scale, zero_point):
    return (q.to(torch.float32) - zero_point) * scale


def per_channel_scale(w, bits):
    absmax = w.abs().amax(dim=1, keepdim=True)
    return torch.where(absmax > 0, absmax / qmax_of(bits), torch.ones_like(absmax))


def pack_int4(q):
    q = q.reshape(-1).to(torch.int16)
    if q.numel() % 2:
        q = torch.cat([q, q.new_zeros(1)])
    low, high = q[0::2] & 0xF, q[1::2] & 0xF
    return (low | (high << 4)).to(torch.uint8)


def unpack_int4(packed, n):
    p = packed.reshape(-1).view(torch.int8)  # the same bits, read as signed bytes
    low = (p << 4) >> 4  # an arithmetic shift right copies the sign bit: sign extension
    high = p >> 4
    return torch.stack([low, high], dim=1).reshape(-1)[:n]


HELPERS = ("absmax_scale", "quantize", "dequantize", "per_channel_scale", "pack_int4", "unpack_int4")


class QuantLinear(nn.Module):
    def __init__(self, linear: nn.Linear, bits: int = 8, per_channel: bool = True):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bits, self.per_channel = bits, per_channel
        w = linear.weight.detach().float()
        scale = per_channel_scale(w, bits) if per_channel else absmax_scale(w, bits).reshape(1, 1)
        q = quantize(w, scale, bits)
        self.register_buffer("qweight", pack_int4(q) if bits == 4 else q)
        self.register_buffer("scale", scale.float())
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def forward(self, x):
        q = self.qweight
        if self.bits == 4:
            q = unpack_int4(q, self.out_features * self.in_features).view(self.out_features, self.in_features)
        return F.linear(x, dequantize(q, self.scale).to(x.dtype), self.bias)


def quantize_model(model, bits=8, per_channel=True):
    for name, child in model.named_children():
        if isinstance(child, nn.Linear):
            setattr(model, name, QuantLinear(child, bits, per_channel))
        else:
            quantize_model(child, bits, per_channel)
    return model
