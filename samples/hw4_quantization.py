"""The shipped sample submissions of HW4 (built by `python -m autograder release`).

Every sample says which questions it must lose (`loses`); all its other questions must score
full marks. tests/test_hw4.py holds each one to that. The grader runs the student's QuantLinear
and quantize_model with correct helper functions (Parts 1-4), so a mistake in a helper costs
only its own question; a mistake in QuantLinear or quantize_model also shows on the real model.
"""
from autograder.samples import ALL, Sample

ENDS = [
    Sample("ref_reference", "the reference solution, every blank filled in", loses=()),
    Sample("blank_release", "the release exactly as handed out", base="blank", loses=ALL),
]

# ---------------------------------------------------------------------------------------
# Planted plausible mistakes, one or more per blank. Part 1's each cost the checks they break
# (a floor or a missing clamp still handles an all-zero tensor).
# ---------------------------------------------------------------------------------------
MISTAKES = [
    Sample("mistake_absmax_max", "takes the scale from max(x), not max(|x|)",
           edits=(("    absmax = x.abs().max()\n    scale = absmax / qmax_of(bits)",
                   "    absmax = x.max()\n    scale = absmax / qmax_of(bits)"),),
           loses=("test_absmax_scale_and_round_trip",)),
    Sample("mistake_absmax_no_clamp", "never clamps: out-of-range values wrap around in the int8 cast",
           edits=(("    q = torch.clamp(q, -qmax, qmax)\n", ""),),
           loses=("test_absmax_known_scale_exact_integers",)),
    Sample("mistake_absmax_floor", "floor instead of round",
           edits=(("    q = torch.round(x / scale)\n", "    q = torch.floor(x / scale)\n"),),
           loses=("test_absmax_known_scale_exact_integers", "test_absmax_scale_and_round_trip")),
    Sample("mistake_zero_point_not_rounded", "keeps the zero point as the float -lo / scale",
           edits=(("zero_point = torch.clamp(torch.round(-lo / scale), 0, levels).to(torch.int64)",
                   "zero_point = torch.clamp(-lo / scale, 0, levels)"),),
           loses=("zero_point",)),
    Sample("mistake_per_channel_axis", "one scale per input column (amax over dim 0)",
           edits=(("absmax = w.abs().amax(dim=1, keepdim=True)", "absmax = w.abs().amax(dim=0, keepdim=True)"),),
           loses=("per_channel",)),
    Sample("mistake_nibble_order", "puts element 2i in the HIGH nibble (and unpacks the same way)",
           edits=(("return (low | (high << 4)).to(torch.uint8)", "return (high | (low << 4)).to(torch.uint8)"),
                  ("torch.stack([low, high], dim=1)", "torch.stack([high, low], dim=1)")),
           loses=("packing",)),
    Sample("mistake_bias_quantized", "quantizes the bias too (absmax, at the layer's bits)",
           edits=(('self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())',
                   'b = None if linear.bias is None else linear.bias.detach()\n'
                   '        self.register_buffer("bias", None if b is None else '
                   'dequantize(quantize(b, absmax_scale(b, bits), bits), absmax_scale(b, bits)))'),),
           loses=("quant_linear",)),
    # The wrong axis breaks every non-square layer (MiniLM's feed-forward ones): the real model
    # and the speed check (on a 384 -> 1536 layer) fail with it.
    Sample("mistake_scale_axis", "dequantizes with the scales broadcast along the columns (scale.view(1, -1))",
           edits=(("weight = dequantize(q, self.scale).to(x.dtype)",
                   "weight = dequantize(q, self.scale.view(1, -1)).to(x.dtype)"),),
           loses=("quant_linear", "fidelity", "speed")),
    # A model whose Linear layers all sit deeper than its direct children keeps them all float:
    # nothing shrinks, and its fidelity is not measured.
    Sample("mistake_quantize_model_not_recursive", "replaces only the model's direct children",
           edits=(("            setattr(model, name, QuantLinear(child, bits, per_channel))\n"
                   "        else:\n            quantize_model(child, bits, per_channel)\n",
                   "            setattr(model, name, QuantLinear(child, bits, per_channel))\n"),),
           loses=("quantize_model", "size", "fidelity")),
]

# ---------------------------------------------------------------------------------------
# Correct answers in another style: full marks.
# ---------------------------------------------------------------------------------------
STYLE = [
    Sample("style_alternatives", "every blank written differently (Python scalars, masks, x @ W.T, a list of parents)",
           edits=(
               ("    absmax = x.abs().max()\n    scale = absmax / qmax_of(bits)\n"
                "    return torch.where(absmax > 0, scale, torch.ones_like(scale))",
                "    m = torch.max(torch.abs(x))\n    if m == 0:\n        return torch.tensor(1.0)\n"
                "    return m / (2 ** (bits - 1) - 1)"),
               ("    q = torch.round(x / scale)\n    q = torch.clamp(q, -qmax, qmax)\n    return q.to(torch.int8)",
                "    return x.div(scale).round().clamp(min=-qmax, max=qmax).to(torch.int8)"),
               ("    return q.to(torch.float32) * scale", "    return scale * q.float()"),
               ("    lo = torch.clamp(x.min(), max=0.0)\n    hi = torch.clamp(x.max(), min=0.0)\n"
                "    scale = (hi - lo) / levels\n    scale = torch.where(scale > 0, scale, torch.ones_like(scale))\n"
                "    zero_point = torch.clamp(torch.round(-lo / scale), 0, levels).to(torch.int64)\n",
                "    lo, hi = min(x.min().item(), 0.0), max(x.max().item(), 0.0)\n"
                "    scale = torch.tensor((hi - lo) / levels if hi > lo else 1.0)\n"
                "    zero_point = torch.tensor(int(min(max(round(-lo / scale.item()), 0), levels)))\n"),
               ("    q = torch.clamp(torch.round(x / scale) + zero_point, 0, 2 ** bits - 1)\n    return q.to(torch.uint8)",
                "    q = (x / scale).round() + zero_point\n    return q.clamp(0, 2 ** bits - 1).to(torch.uint8)"),
               ("    return (q.to(torch.float32) - zero_point) * scale",
                "    return (q.float() - zero_point.float()) * scale"),
               ("    absmax = w.abs().amax(dim=1, keepdim=True)\n"
                "    return torch.where(absmax > 0, absmax / qmax_of(bits), torch.ones_like(absmax))",
                "    scale = w.abs().max(dim=1).values.view(-1, 1) / qmax_of(bits)\n"
                "    scale[scale == 0] = 1.0\n    return scale"),
               ("    q = q.reshape(-1).to(torch.int16)\n    if q.numel() % 2 == 1:\n"
                "        q = torch.cat([q, q.new_zeros(1)])  # an odd length: one 0 for the last high nibble\n"
                "    low = q[0::2] & 0xF\n    high = q[1::2] & 0xF\n    return (low | (high << 4)).to(torch.uint8)",
                "    u = q.flatten().to(torch.uint8) & 15\n    if len(u) % 2:\n"
                "        u = torch.cat([u, torch.zeros(1, dtype=torch.uint8)])\n    return u[0::2] | (u[1::2] << 4)"),
               ("    p = packed.reshape(-1).view(torch.int8)  # the same bits, read as signed bytes\n"
                "    low = (p << 4) >> 4  # shifting right copies the sign bit: the low nibble, sign-extended\n"
                "    high = p >> 4\n    return torch.stack([low, high], dim=1).reshape(-1)[:n]",
                "    low = (packed & 0x0F).to(torch.int8)\n    high = (packed >> 4).to(torch.int8)\n"
                "    values = torch.stack([low, high], dim=1).flatten()[:n]\n"
                "    return torch.where(values > 7, values - 16, values)"),
               ("        if per_channel:\n            scale = per_channel_scale(w, bits)\n        else:\n"
                "            scale = absmax_scale(w, bits).reshape(1, 1)\n        q = quantize(w, scale, bits)\n"
                "        if bits == 4:\n            q = pack_int4(q)  # the flattened weight, two values per byte\n"
                "        self.register_buffer(\"qweight\", q)\n"
                "        self.register_buffer(\"scale\", scale.to(torch.float32))\n"
                "        self.register_buffer(\"bias\", None if linear.bias is None else linear.bias.detach().clone())\n",
                "        scale = per_channel_scale(w, bits) if per_channel else absmax_scale(w, bits).view(1, 1)\n"
                "        qw = quantize(w, scale, bits)\n"
                "        self.register_buffer(\"qweight\", pack_int4(qw.flatten()) if bits == 4 else qw)\n"
                "        self.register_buffer(\"scale\", scale.float())\n"
                "        if linear.bias is not None:\n"
                "            self.register_buffer(\"bias\", linear.bias.detach().clone())\n"
                "        else:\n            self.bias = None\n"),
               ("        q = self.qweight\n        if self.bits == 4:\n"
                "            q = unpack_int4(q, self.out_features * self.in_features).view(self.out_features, self.in_features)\n"
                "        weight = dequantize(q, self.scale).to(x.dtype)\n        return F.linear(x, weight, self.bias)\n",
                "        if self.bits == 4:\n"
                "            w = unpack_int4(self.qweight, self.out_features * self.in_features).reshape(self.out_features, -1)\n"
                "        else:\n            w = self.qweight\n"
                "        out = x @ (w.float() * self.scale).t()\n"
                "        return out + self.bias if self.bias is not None else out\n"),
               ("    for name, child in model.named_children():\n        if isinstance(child, nn.Linear):\n"
                "            setattr(model, name, QuantLinear(child, bits, per_channel))\n        else:\n"
                "            quantize_model(child, bits, per_channel)\n    return model",
                "    targets = [(parent, name, child) for parent in model.modules()\n"
                "               for name, child in parent.named_children() if isinstance(child, nn.Linear)]\n"
                "    for parent, name, child in targets:\n"
                "        setattr(parent, name, QuantLinear(child, bits=bits, per_channel=per_channel))\n"
                "    return model"),
           ),
           loses=()),
]

# ---------------------------------------------------------------------------------------
# Correct but slow: each must fail the speed ratio and nothing else.
# ---------------------------------------------------------------------------------------
SLOW = [
    Sample("slow_dequant_loop", "dequantizes the weight row by row in a Python loop at every forward",
           edits=(("        weight = dequantize(q, self.scale).to(x.dtype)\n",
                   "        weight = torch.empty(self.out_features, self.in_features)\n"
                   "        for i in range(self.out_features):\n"
                   "            weight[i] = dequantize(q[i], self.scale[i] if self.per_channel else self.scale[0])\n"
                   "        weight = weight.to(x.dtype)\n"),),
           loses=("speed",)),
    Sample("slow_unpack_elements", "unpacks int4 element by element in Python",
           edits=(("    p = packed.reshape(-1).view(torch.int8)  # the same bits, read as signed bytes\n"
                   "    low = (p << 4) >> 4  # shifting right copies the sign bit: the low nibble, sign-extended\n"
                   "    high = p >> 4\n    return torch.stack([low, high], dim=1).reshape(-1)[:n]",
                   "    values = []\n    for byte in packed.tolist():\n"
                   "        for nibble in (byte & 0xF, byte >> 4):\n"
                   "            values.append(nibble - 16 if nibble > 7 else nibble)\n"
                   "    return torch.tensor(values[:n], dtype=torch.int8)"),),
           loses=("speed",)),
]

# ---------------------------------------------------------------------------------------
# Cheating.
# ---------------------------------------------------------------------------------------
CHEATS = [
    Sample("cheat_float_copy", "keeps a float copy of the weight as a plain attribute and multiplies by it",
           edits=(("        self.register_buffer(\"qweight\", q)\n",
                   "        self.register_buffer(\"qweight\", q)\n        self.w_float = w.clone()\n"),
                  ("        weight = dequantize(q, self.scale).to(x.dtype)\n",
                   "        weight = self.w_float.to(x.dtype)\n")),
           loses=("quant_linear", "size")),
]

SAMPLES = ENDS + MISTAKES + STYLE + SLOW + CHEATS
